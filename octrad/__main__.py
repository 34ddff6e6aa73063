from octrad.cli import main

main()
