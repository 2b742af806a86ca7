"""databay-mongo as a plugin: where its classes are found, and what loading it costs."""

from __future__ import annotations

import inspect
import subprocess
import sys

import databay_mongo
from databay.errors import DatabayError, TransferError
from databay.outlet import MetadataKey


def test_outlet_and_inlet_resolve_through_the_databay_namespaces() -> None:
    from databay.inlets import MongoInlet
    from databay.outlets import MongoOutlet
    from databay.outlets.mongo_outlet import MongoOutlet as CompatMongoOutlet

    assert MongoOutlet is CompatMongoOutlet is databay_mongo.MongoOutlet
    assert MongoInlet is databay_mongo.MongoInlet
    assert MongoOutlet.__module__ == "databay_mongo._outlet"


def test_loading_plugins_does_not_import_pymongo() -> None:
    code = (
        "import sys\n"
        "from databay import plugins\n"
        "names = plugins.available('outlet') + plugins.available('inlet')\n"
        "assert 'MongoOutlet' in names and 'MongoInlet' in names, names\n"
        "import databay_mongo\n"
        "assert 'pymongo' not in sys.modules and 'bson' not in sys.modules\n"
        "from databay.outlets import MongoOutlet\n"
        "assert 'pymongo' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_original_signature_defaults_and_metadata_key() -> None:
    from databay.outlets import MongoOutlet

    params = inspect.signature(MongoOutlet).parameters
    assert list(params)[:4] == ["database_name", "collection", "host", "port"]
    assert params["database_name"].default == "databay"
    assert params["collection"].default == "default_collection"
    assert params["host"].default is None and params["port"].default is None
    assert MongoOutlet.MONGODB_COLLECTION == "MongoOutlet.MONGODB_COLLECTION"
    assert isinstance(MongoOutlet.MONGODB_COLLECTION, MetadataKey)


def test_error_names() -> None:
    assert issubclass(databay_mongo.MongoCollectionNotFound, DatabayError)
    assert issubclass(databay_mongo.MongoWriteError, TransferError)
    assert issubclass(databay_mongo.MongoPayloadError, TypeError)
    assert issubclass(databay_mongo.MongoReadError, DatabayError)
    assert set(databay_mongo.__all__) >= {"MongoOutlet", "MongoInlet", "MongoCollectionNotFound"}


def test_original_error_name_at_the_original_path() -> None:
    import databay_mongo
    from databay.outlets.mongo_outlet import MongoCollectionNotFound, MongoOutlet

    assert MongoCollectionNotFound is databay_mongo.MongoCollectionNotFound
    assert MongoOutlet is databay_mongo.MongoOutlet
