"""Dataset readers: one module per dataset, each a `base.DatasetReader` registered by name with
`registry.register_reader` (its flags, how it is built from them, its recording rule).

Importing the package imports every module in it, so every reader is registered before any is
looked up, and a new dataset is one new file here (and its test). `registry.make_reader` builds one.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
