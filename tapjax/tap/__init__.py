"""Track, Attend and Parse: online handwritten mathematical expressions to LaTeX.

Four sub-rooms, each importing only itself and the rooms listed before it:

    ink   InkML, LaTeX tokens, point features, alignment, CROHME splits, batches, augmentation
    nets  the networks (tracker, attention, parser, WAP, language model) and their losses
    read  trained runs and exported models, decoding, scoring, recognition
    fit   training: train_and_evaluate, checkpoint averaging

docs/architecture.md lists every module.
"""
