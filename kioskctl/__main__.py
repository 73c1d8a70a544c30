from kioskctl.cli import main

main()
