"""What users run: ``mfcheck verify``, the gate, ``mfcheck calibrate``, the false-alarm
measurement, the reproductions of the paper, the pytest plugin, the hypothesis strategies and
the command line. The top layer: it may import every other package of mfcheck."""
