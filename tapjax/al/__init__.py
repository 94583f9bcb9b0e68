"""Deep active learning for sequence labeling (W-BADGE paper), one concept per module::

    corpora           CoNLL-2003 / ATIS / FMTOD readers (BIO tags)
    vocabulary        word, character and tag vocabularies of the pool's text, pretrained vectors; Vocabs, Encoded
    sentence_batches  padded batches by length bucket; the whole-pool chunk layout for scoring
    taggers           BiLSTM tagger and BiLSTM encoder-decoder
    learner           model building, loss, greedy prediction, entity-F1 evaluation, a round's training
    spans             entity chunks and F1 (conlleval)
    scoring           pool features in one program: gradient embeddings (Eq. 4), MNLP (Eq. 1), BALD (Eq. 2)
    selection         top-k, k-center greedy, (weighted, Eq. 5) k-means++ seeding, sharded; word budgets
    strategies        Random, MNLP, BALD, Core-set, BADGE, W-BADGE and their registry
    loop              seeds and rounds, resume (orbax checkpoints), metrics, results
    curves            F1 against % of words annotated: a common grid, shared-span area, W-BADGE vs each baseline
"""
