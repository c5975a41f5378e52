"""How far a plate's poses and expressions lie from an identity's training footage:
`python coverage_report.py checkpoint=... identity=... input=PLATE [output=...]`.

The same as `fusion-coverage`, in a checkout (fusion/commands/coverage.py).
"""

from fusion.commands.coverage import main

if __name__ == "__main__":
    main()
