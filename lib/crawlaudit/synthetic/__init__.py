"""The AI-generated share: the detector and its training, reference vocabularies, the quantifiers and their
intervals (``estimates``, ``quantify``), and the audit's step (``step``)."""
