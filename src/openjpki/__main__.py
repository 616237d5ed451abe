from openjpki.cli import main

main()
