from importlib.metadata import version

from common.version import DISTRIBUTION, __version__


def test_the_version_is_the_distributions():
    assert __version__ == version(DISTRIBUTION)
