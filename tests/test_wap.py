"""WAP (tapjax.tap.nets.watcher, tapjax.tap.nets.wap): the watcher's grid and mask, the 2-D coverage, the family in
the beam search and in a mixture with TAP and the language model (Eq. 33), a one-batch overfit through the
trainer's stateful step read back by the search, a run of the trainer resumed and decoded from its workdir."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.configs import crohme14
from experiments.configs import wap as wap_configs
from tapjax.common import sharding
from tapjax.common.beam import beam_search
from tapjax.common.checkpoint import Checkpoints
from tapjax.common.family import Mixture
from tapjax.tap.fit import trainer
from tapjax.tap.ink import inputs, render
from tapjax.tap.nets import families
from tapjax.tap.nets.language_model import LanguageModel, LMConfig
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.model_config import TAPConfig, WAPConfig
from tapjax.tap.nets.wap import WAP, columns, grid_coverage_features
from tapjax.tap.nets.watcher import Watcher
from tapjax.tap.read import decoding, runs

TINY = WAPConfig.from_config(wap_configs.get_config("paper").model,  # the paper's, shrunk
                             vocab_size=11, image_height=32, watcher_filters=(4, 8, 8, 16),
                             watcher_layers=(1, 1, 1, 1), embed_dim=8, parser_hidden=32, attention_dim=16,
                             coverage_kernel=3, coverage_filters=4, maxout_dim=32)
CAPTIONS = ([1, 2], [3, 4, 5], [6, 7, 8, 9])  # one per synthetic image; <eol> (0) appended


@pytest.fixture(scope="module")
def model():
    return WAP(TINY)


@pytest.fixture(scope="module")
def variables(model):
    return model.init(jax.random.key(0))


def synthetic_batch():
    """Three inks (a circle, a plus, a zigzag) rendered 32 rows high: ``(images [3, W, 32], mask [3, W])``."""
    angle = np.linspace(0, 2 * np.pi, 40)
    inks = [(np.stack([np.cos(angle), np.sin(angle)], 1), np.zeros(40, int)),
            (np.array([[0, 5], [10, 5], [5, 0], [5, 10]], float), np.array([0, 0, 1, 1])),
            (np.array([[0, 0], [10, 10], [20, 0], [30, 10], [40, 0], [50, 10]], float), np.zeros(6, int))]
    settings = render.Settings(height=32, max_width=96, pen_width=2.0, margin=1.0)
    return columns(*render.batch_images([render.render_points(p, s, settings) for p, s in inks]))


def caption_batch():
    """``(tokens [3, 5], token_mask [3, 5])``: each caption, <eol>, then padding."""
    tokens = np.zeros((3, 5), np.int32)
    for row, caption in enumerate(CAPTIONS):
        tokens[row, :len(caption)] = caption
    return tokens, (np.arange(5)[None] <= np.array([len(c) for c in CAPTIONS])[:, None]).astype(np.float32)


def random_images(rng, widths, W, H=32):
    """Column-layout images ``[B, W, H]`` of the given real widths, garbage (99) in the padding."""
    mask = (np.arange(W)[None] < np.array(widths)[:, None]).astype(np.float32)
    images = np.where(mask[..., None] > 0, rng.random((len(widths), W, H)), 99.0).astype(np.float32)
    return images, mask


def test_watcher_pools_the_image_and_its_mask_by_16():
    net = Watcher(filters=(2, 3, 4, 5), layers=(1, 2, 1, 1), batch_norm=True)
    images = np.random.default_rng(0).random((2, 33, 50)).astype(np.float32)
    mask = np.ones_like(images)
    mask[1, :, 19:] = 0  # the second image is 19 columns wide
    variables = jax.jit(net.init)(jax.random.key(0), images, mask)
    A, a_mask = jax.jit(net.apply)(variables, images, mask)
    # rows 33 -> 17 -> 9 -> 5 -> 3, columns 50 -> 25 -> 13 -> 7 -> 4 (19 -> 10 -> 5 -> 3 -> 2 real)
    assert A.shape == (2, 3 * 4, 5) and a_mask.shape == (2, 12)
    want = np.ones((2, 3, 4), np.float32)
    want[1, :, 2:] = 0
    np.testing.assert_array_equal(a_mask, want.reshape(2, 12))
    every_other = mask[:, ::16, ::16].reshape(2, -1)  # the authors' mask pooling, x_mask[:, 0::2, 0::2] x 4
    np.testing.assert_array_equal(a_mask, every_other)
    assert float(jnp.abs(A[1].reshape(3, 4, 5)[:, 2:]).max()) == 0.0  # padded cells carry nothing


def test_the_paper_watcher_is_16_convolutions_of_the_authors_widths():
    model = WAP.from_config(wap_configs.get_config("paper").model)
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    kernels = [v["kernel"].shape for k, v in shapes["params"]["watcher"].items() if k.startswith("conv")]
    assert len(kernels) == 16 and sorted({k[-1] for k in kernels}) == [32, 64, 128]
    assert kernels[-1] == (3, 3, 128, 128) and model.stride == 16 and model.grid_height == 8
    assert len(shapes["batch_stats"]["watcher"]) == 16
    assert WAP.from_config(wap_configs.get_config("cpu").model).grid_height == 4


def test_family_shapes_and_one_step_shared_by_training_and_decoding(model, variables):
    images, mask = random_images(np.random.default_rng(1), widths=(40, 23), W=48)
    enc = model.encode(variables, images, mask)
    L = 2 * 3  # 32 rows -> 2, 48 columns -> 3
    assert enc["A"].shape == (2, L, 16) and enc["mask"].shape == (2, L) and enc["keys"].shape == (2, L, 16)
    state = model.init_state(variables, enc)
    assert set(state) == {"s", "alpha", "alpha_sum"} and state["s"].shape == (2, 32)
    tokens = np.array([[3, 4, 0], [5, 0, 0]], np.int32)
    forced, alpha, a_mask = model.teacher_forced(variables, images, mask, tokens)
    assert forced.shape == (2, 3, 11) and alpha.shape == (2, 3, L)
    np.testing.assert_array_equal(a_mask, enc["mask"])
    prev = jnp.array([-1, -1], jnp.int32)
    for t in range(3):
        log_probs, state = model.step(variables, enc, state, prev)
        np.testing.assert_allclose(jnp.exp(log_probs).sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(forced[:, t], log_probs, atol=1e-5)
        prev = jnp.asarray(tokens[:, t])


def test_coverage_attention_sums_to_one_over_the_real_cells(model, variables):
    images, mask = random_images(np.random.default_rng(2), widths=(48, 17), W=48)
    _, alpha, a_mask = model.teacher_forced(variables, images, mask, np.ones((2, 6), np.int32))
    np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-5)
    assert float(a_mask[1].sum()) == 2 * 2 and float((alpha * (1 - a_mask[:, None])).max()) == 0.0


def test_grid_coverage_is_a_2d_convolution_of_the_attention_map():
    rng = np.random.default_rng(3)
    history, kernel = rng.random((2, 3 * 5)).astype(np.float32), rng.normal(size=(9, 2)).astype(np.float32)
    got = np.asarray(grid_coverage_features(jnp.asarray(history), jnp.asarray(kernel), grid_height=3))
    padded = np.pad(history.reshape(2, 3, 5), ((0, 0), (1, 1), (1, 1)))
    want = np.zeros((2, 3, 5, 2), np.float32)
    for i in range(3):
        for j in range(5):
            window = padded[:, i:i + 3, j:j + 3].reshape(2, 9)
            want[:, i, j] = window @ kernel
    np.testing.assert_allclose(got, want.reshape(2, 15, 2), rtol=1e-5, atol=1e-6)


def test_padding_changes_neither_real_cells_nor_batch_statistics(model, variables):
    rng = np.random.default_rng(4)
    images, mask = random_images(rng, widths=(40,), W=40)
    wide = np.concatenate([images, np.full((1, 32, 32), 99.0, np.float32)], 1)
    wide_mask = np.pad(mask, ((0, 0), (0, 32)))
    tokens = np.array([[2, 7, 0]], np.int32)
    alone, wider = model.encode(variables, images, mask), model.encode(variables, wide, wide_mask)
    # 40 columns -> 3 cells, 72 -> 5: the first 3 of each grid row are the same cells
    np.testing.assert_allclose(wider["A"].reshape(2, 5, -1)[:, :3], alone["A"].reshape(2, 3, -1), atol=1e-5)
    np.testing.assert_allclose(model.teacher_forced(variables, wide, wide_mask, tokens)[0],
                               model.teacher_forced(variables, images, mask, tokens)[0], atol=1e-5)
    stats = [model.train_forward(variables, x, m, tokens)[1]["batch_stats"]
             for x, m in ((images, mask), (wide, wide_mask))]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), *stats)
    assert not jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), stats[0], variables["batch_stats"]))


def test_one_batch_is_learned_by_the_train_step_and_read_back_by_the_beam_search(model):
    """The trainer's step (sharding.make_train_step, stateful) on WAP's loss (families.loss_fn): the
    running averages move with each batch, the parameters learn the batch."""
    images, mask = synthetic_batch()
    tokens, token_mask = caption_batch()
    batch = {"images": images, "image_mask": mask, "tokens": tokens, "token_mask": token_mask,
             "index": np.arange(3, dtype=np.int32)}
    config = wap_configs.get_config("paper")
    config.train.loss_average = "tokens"
    mesh = sharding.data_mesh(jax.devices()[:1])
    tx = optax.adam(1e-2)
    params, model_state = families.init(model, jax.random.key(0))
    state = sharding.replicate(sharding.TrainState.create(params, tx, model_state), mesh)
    model_state = jax.device_get(model_state)  # the step donates the state's buffers
    step = sharding.make_train_step(families.loss_fn(model, config), tx, mesh, stateful=True)
    batch = sharding.shard_batch(batch, mesh)
    for _ in range(150):
        state, metrics = step(state, batch, jax.random.key(1))
    assert float(metrics["loss"]) < 0.05 and "guider" not in metrics
    moved = jax.tree.map(lambda a, b: not np.allclose(a, b), state.model_state, model_state)
    assert all(jax.tree.leaves(moved))  # every running average followed the batches
    decoded = families.state_variables(model, state)
    result = beam_search(model, decoded, images, mask, beam=3, max_len=8, length_norm=False)
    read = [np.asarray(result.tokens[b, 0, :result.lengths[b, 0]]).tolist() for b in range(3)]
    assert read == [list(c) for c in CAPTIONS] and bool(result.finished[:, 0].all())


def test_a_mixture_of_tap_wap_and_a_language_model_is_eq_33_at_a_step(model, variables):
    """Each member reads its own input (a tuple per side); the weights are an input (weights=None)."""
    tap = TAP(TAPConfig.from_config(crohme14.get_config("paper").model, vocab_size=11, tracker_hidden=6,
                                    embed_dim=5, parser_hidden=7, attention_dim=8, coverage_kernel=5,
                                    coverage_filters=3, maxout_dim=6))
    lm = LanguageModel(LMConfig(vocab_size=11, embed_dim=4, hidden=5))
    mixture = Mixture((tap, model, lm), None)
    rng = np.random.default_rng(5)
    features, feature_mask = rng.normal(size=(2, 16, 8)).astype(np.float32), np.ones((2, 16), np.float32)
    images, mask = random_images(rng, widths=(40, 23), W=48)
    rows = inputs.read(inputs.Rows(), {"index": np.arange(2, dtype=np.int32)})
    xs, masks = (features, images, rows[0]), (feature_mask, mask, rows[1])
    prev = jnp.array([-1, 4], jnp.int32)

    @jax.jit
    def first_step(members, weights):
        params = {"members": members, "weights": weights}
        enc = mixture.encode(params, xs, masks)
        log_probs, state = mixture.step(params, enc, mixture.init_state(params, enc), prev)
        singles = [f.step(p, e, f.init_state(p, e), prev)[0] for f, p, e in zip(mixture.families, members, enc)]
        return log_probs, state["alpha"], singles

    members = (jax.jit(tap.init)(jax.random.key(1)), variables, lm.init(jax.random.key(2)))
    weights = np.array([0.5, 0.3, 0.2], np.float32)
    log_probs, alpha, singles = first_step(members, weights)
    want = np.log(sum(w * np.exp(np.asarray(lp, np.float64)) for w, lp in zip(weights, singles)))  # Eq. 33
    np.testing.assert_allclose(log_probs, want, rtol=1e-5, atol=1e-6)
    enc = model.encode(variables, images, mask)  # WAP read the images
    np.testing.assert_allclose(singles[1], model.step(variables, enc, model.init_state(variables, enc), prev)[0],
                               atol=1e-5)
    assert alpha.shape == (2, 4)  # TAP's (16 points / stride 4), the first family with attention


def test_configs_and_inputs_are_checked(model, variables):
    for variant in wap_configs.VARIANTS:
        assert WAP.from_config(wap_configs.get_config(variant).model).config.temporal is False
    with pytest.raises(ValueError, match="unknown variant"):
        wap_configs.get_config("p4")
    with pytest.raises(ValueError, match="family is 'tap'"):
        WAPConfig.from_config(wap_configs.get_config("paper").model, family="tap")
    with pytest.raises(ValueError, match=r"unknown fields \['tracker_hidden'\]"):
        WAPConfig.from_config(wap_configs.get_config("paper").model, tracker_hidden=8)
    with pytest.raises(ValueError, match="one watcher_layers entry per"):
        WAPConfig.from_config(wap_configs.get_config("paper").model, watcher_layers=(4, 4))
    with pytest.raises(ValueError, match=r"expected images \[B, W, H=32\]"):
        model.encode(variables, np.zeros((1, 40, 64), np.float32), np.ones((1, 40), np.float32))
    uneven = np.ones((1, 32, 40), np.float32)
    uneven[0, 5:, 30:] = 0
    with pytest.raises(ValueError, match="pads the width only"):
        columns(np.zeros_like(uneven), uneven)


def _tiny_run_config(data_root, epochs):
    """A tiny WAP (two watcher blocks) on 4 short real expressions, rendered 16 rows high, validated greedily on
    them."""
    config = wap_configs.get_config("cpu")
    config.model.update(image_height=16, watcher_filters=(4, 8), watcher_layers=(1, 1), embed_dim=8,
                        parser_hidden=16, attention_dim=16, coverage_kernel=3, coverage_filters=4, maxout_dim=16)
    config.render.update(max_width=64, pen_width=1.0, margin=1.0)
    config.data.update(root=str(data_root), train_limit=4, train_max_points=200, valid="train", pad_to_longest=True)
    config.train.update(epochs=epochs, batch_size=8, time_budget_s=0.0)  # the suite runs on 8 host devices
    config.eval.update(max_len=4, test_sets=(), valid_beam=1, test_beam=1)
    return config


def test_a_wap_run_trains_resumes_and_decodes_from_its_workdir(data_root, tmp_path):
    first = trainer.train_and_evaluate(_tiny_run_config(data_root, epochs=1), str(tmp_path))
    saved = runs.restore_state(Checkpoints(tmp_path), WAP.from_config(_tiny_run_config(data_root, 1).model),
                               runs.load_config(tmp_path), ("latest",))
    assert isinstance(saved, sharding.StatefulTrainState) and int(saved.step) == 1
    resumed = trainer.train_and_evaluate(_tiny_run_config(data_root, epochs=2), str(tmp_path))
    assert (first["steps"], resumed["steps"], resumed["epochs"]) == (1, 2, 2) and resumed["train"]["n"] == 4
    loaded = runs.load_runs([tmp_path])
    assert isinstance(loaded.family, WAP) and isinstance(loaded.kinds, inputs.Images)
    assert loaded.kinds.settings.height == 16 and set(loaded.params) == {"params", "batch_stats"}
    stats = jax.tree.leaves(loaded.params["batch_stats"])
    assert not all(np.allclose(leaf, 0) or np.allclose(leaf, 1) for leaf in stats)  # trained running averages
    _, train, _ = trainer.load_data(loaded.config)
    scores = decoding.score(loaded.family, loaded.params, train, loaded.vocab, loaded.config,
                            kinds=loaded.kinds, beam=1)
    assert scores == resumed["train"]  # the registry's model decodes as the trainer's test did
