from tinyqi.cli import main

main()
