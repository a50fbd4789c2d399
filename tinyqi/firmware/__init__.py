"""Firmware stage: board profiles, the offline PlatformIO build of the harness, its ELF size report, and flashing."""
