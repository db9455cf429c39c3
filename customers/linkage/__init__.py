"""Record linkage: which profiles are one person, how sure, and why.

The engine behind ``find_duplicates`` (issue 22), a Fellegi-Sunter model
as Splink and the recordlinkage toolkit implement it:

- ``records``: profiles folded and parsed once for comparing;
- ``blocking``: several independent blocking keys, so a typo in any one
  field never hides a pair;
- ``comparisons``: per field, a comparison *level* (exact, close,
  similar, initial, different, missing), one pair at a time (the
  reference, and what single pairs use);
- ``columns``: the same levels for arrays of pairs at once (numpy and
  rapidfuzz's ``cpdist``), which is what scoring a whole base uses;
- ``model``: m/u probabilities per level and the share of true pairs,
  estimated by expectation-maximisation from the candidate pairs
  themselves, term-frequency adjusted names, and the match probability
  with its per-field explanation;
- ``clusters``: sure pairs grouped transitively, guarded against chaining
  different people together and against oversized groups.

Pure functions over plain data: no database access here.
"""
