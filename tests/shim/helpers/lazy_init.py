#!/usr/bin/python3
"""A deliberately bad PID 1 for controls: runs its command and waits for
that one child only (subprocess.call), never reaping adopted orphans and
never forwarding signals.  usage: lazy_init.py CMD...
"""
import subprocess
import sys

sys.exit(subprocess.call(sys.argv[1:]))
