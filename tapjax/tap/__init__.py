"""Track, Attend and Parse (online handwritten mathematical expressions), one concept per module::

    inkml           InkML reader (traces, truth, trace groups); InkMLError
    latex           truth LaTeX to the standard CROHME tokens
    symbols         the 111-symbol vocabulary
    strokes         point features (Eq. 2): normalisation, thinning, differences, pen states
    alignment       token-to-stroke alignment (the guider's targets)
    crohme          CROHME splits, loaded in parallel and cached
    augment         on-the-fly augmentation of the kept points (random affine map, jitter; features computed again)
    render          ink drawn as an anti-aliased grey image (fixed height, aspect kept); image batches with masks
    inputs          what a family reads from a batch: points (TAP), rendered images (WAP), rows only (the language model)
    batching        padded, length-bucketed batches of those inputs
    stats           the data report (``python -m tapjax.tap.ink.stats``)
    reference_features  our point features against the TAP authors' released ones (``stats --reference_features``)
    tracker         stacked BiGRU with time pooling
    attention       spatial + coverage (Eqs. 17-21), temporal (Eqs. 22-27) attention, guider (Eq. 28)
    parser          the GRU parser (Eqs. 11-16)
    model           TAPConfig (from the config's model block) and the TAP decoding family
    watcher         WAP's VGG-style convolutional encoder of the image, masked batch norm
    wap             WAP (Eq. 33's offline member): the watcher, TAP's parser, coverage over the 2-D grid
    families        the model.family registry: TAP or WAP built, initialised, trained and decoded from a run's config
    language_model  the GRU language model (Eq. 33's third member) as a decoding family; ``python -m tapjax.tap.nets.language_model``
    loss            Eq. 29 (optionally with label smoothing; WAP's without the guider)
    weight_noise    adaptive weight noise (Graves 2011): the authors' second training stage
    trainer         train_and_evaluate: epochs, validation, checkpoints, test
    averaging       the mean of the last validated weights (checkpoint averaging)
    decoding        a split decoded with the beam search (Eqs. 30-31), batches split over every device
    runs            trained runs loaded from their workdirs (one, an ensemble: Eq. 32, or a mixture with a language model: Eq. 33)
    mixture_weights Eq. 33's weights chosen on the validation set (``python -m tapjax.tap.read.mixture_weights``)
    evaluate        ``python -m tapjax.tap.read.evaluate``
    recognize       ``python -m tapjax.tap.read.recognize``
    pretrained      the model shipped in ``tapjax/tap/read/weights`` (``tapjax.load_pretrained``) and the command that ships one
    exprate         WER, ExpRate, <= k errors
    attention_plot  attention panels (Figs. 9-10)
"""
