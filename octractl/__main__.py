from octractl.entry import main

main()
