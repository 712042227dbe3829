"""Raw-release preparation, apart from the runtime reading of `cpm.data`: the NTU RGB+D `.skeleton` and PKU-MMD
parsers, their CLIs (scripts/prepare_ntu.py, prepare_pku.py), the official missing-sample lists, and a generator
of fake NTU files for tests and the benchmark. Converts a release once into the `arrays` format that
`cpm.data` reads; nothing in the library below the CLIs imports this package.
"""
