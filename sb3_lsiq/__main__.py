"""``python -m sb3_lsiq train|enjoy|...``: rl-zoo3's command line with LSIQ and IQ-Learn registered."""

from sb3_lsiq.zoo.cli import main

main()
