import os.path as osp

from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open(osp.join('csnet_mmseg', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(path):
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


setup(
    name='csnet-mmseg',
    version=read_version(),
    description='CSNet (100K-parameter salient object detection, ECCV 2020) '
    'as an MMSegmentation plugin',
    long_description=open('README.md').read() if osp.exists('README.md')
    else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    python_requires='>=3.10',
    # mmcv must be built from source with --no-build-isolation after torch:
    # use tools/install.sh, which installs these in the right order.
    install_requires=read_requirements('requirements.txt'),
    extras_require=dict(tests=read_requirements('requirements-tests.txt')),
    license='Apache-2.0',
    zip_safe=False)
