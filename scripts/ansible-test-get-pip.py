"""Stand-in for ansible-test's pip bootstrap script (get-pip-VERSION.py).

ansible-test makes a virtual environment of its own for each sanity test
(the tools pinned in ansible_test/_data/requirements/sanity.*.txt), also on
the "origin" host and without --venv/--requirements, created without pip.
It puts pip into it by running get-pip-VERSION.py, which it downloads from
https://ci-files.testing.ansible.com (unreachable from the project's
machines) unless ~/.ansible/test/cache/get_pip_VERSION.py exists already.
tests/ansible_test_test.go copies this script there: it installs pip into
the new environment with the interpreter's own ensurepip, then the requested
packages (pip==VERSION) from PyPI, as get-pip would.

Arguments, as ansible-test passes them to get-pip: pip options and
requirements, and get-pip's own --no-setuptools/--no-wheel (this script
installs neither in any case).
"""

import subprocess
import sys

GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}


def main():
    """Bootstrap pip, then install the requested packages with it."""
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    for command in (['ensurepip', '--default-pip'], ['pip', 'install', '--quiet', '--no-cache-dir'] + args):
        status = subprocess.call([sys.executable, '-m'] + command, stdout=subprocess.DEVNULL)
        if status != 0:
            sys.exit('get-pip stand-in: python -m %s failed (exit status %d)' % (' '.join(command), status))


if __name__ == '__main__':
    main()
