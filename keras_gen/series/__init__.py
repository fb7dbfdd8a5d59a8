"""Time-series anomaly detection: NAB scoring and baseline detectors.

Modules are imported explicitly (``from keras_gen.series import nab``); this
package ``__init__`` stays free of imports so that it loads instantly.
"""
