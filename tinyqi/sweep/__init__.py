"""`tinyqi sweep`: a multi-objective search over model, training and compression settings, run by Ray Tune with
Optuna as its searcher (docs/sweep.md).

  space.py   the search space (the one place that defines it) and its named variants
  trial.py   one trial: train -> compress -> build -> emulate through the library, its row of figures
  run.py     the driver: Ray, the Tuner, rounds and --resume, the outputs
  search.py  the Optuna searcher and the progress callback (Ray-side classes)
  state.py   the sweep directory and sweep.json
  pareto.py  selection (DS1 validation only), the Pareto run directories, pareto.json / pareto.png
  report.py  report.md
"""
