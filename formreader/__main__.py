from formreader.cli import main

main()
