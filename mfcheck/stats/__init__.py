"""Statistics that do not depend on any claim: results, the three verdicts and Holm's procedure
(:mod:`~mfcheck.stats.results`), batched least squares with robust errors
(:mod:`~mfcheck.stats.regression`), and the power of a one-sided slope test (:mod:`~mfcheck.stats.power`)."""
