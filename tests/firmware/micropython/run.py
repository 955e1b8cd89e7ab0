# Run firmware tests under MicroPython: `micropython run.py MODULE [FUNCTION]`.
# Prints "PASS name" or "FAIL name" with the traceback for each test, then "DONE".

import sys


def main():
    module = __import__(sys.argv[1])
    names = sys.argv[2:] or sorted(n for n in dir(module) if n.startswith("test_"))
    for name in names:
        try:
            getattr(module, name)()
            print("PASS", name)
        except Exception as e:
            print("FAIL", name)
            sys.print_exception(e)
    print("DONE")


main()
