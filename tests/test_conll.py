"""CoNLL-2003 / ATIS / FMTOD readers, tag schemes and vocabularies."""

import numpy as np
import pytest

from tapjax.al import corpora, vocabulary


def test_iob1_to_bio():
    assert corpora.iob1_to_bio(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == \
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"]


@pytest.mark.parametrize("name,sizes", [
    ("conll2003", (14041, 3250, 3453)), ("atis", (4478, 500, 893)), ("fmtod", (30521, 4181, 8621))])
def test_real_splits(data_root, name, sizes):
    splits = corpora.load(name, data_root)
    assert tuple(len(splits[s]) for s in corpora.SPLITS) == sizes
    for corpus in splits.values():
        assert all(len(w) == len(t) > 0 for w, t in zip(corpus.words, corpus.tags))
        tags = {t for s in corpus.tags for t in s}
        assert "NoLabel" not in tags and all(t == "O" or t[:2] in ("B-", "I-") for t in tags)


def test_conll_bio_and_docstart(data_root):
    train = corpora.load("conll2003", data_root)["train"]
    assert not any("-DOCSTART-" in s for s in train.words)
    assert train.words[0] == ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    assert train.tags[0] == ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]
    for tags in train.tags:  # BIO: an I- tag always continues a chunk of its type
        for prev, tag in zip(["O"] + tags, tags):
            assert not tag.startswith("I-") or prev[2:] == tag[2:]


def test_bad_input_names_file_and_line(tmp_path):
    bad = tmp_path / "eng.train"
    bad.write_text("EU NNP I-NP I-ORG\nrejects VBZ\n")
    with pytest.raises(ValueError, match=r"eng.train:2: expected 4 columns"):
        corpora.read_conll2003(bad)
    (tmp_path / "atis").mkdir()
    (tmp_path / "atis" / "seq.in").write_text("a b\n")
    (tmp_path / "atis" / "seq.out").write_text("O\n")
    with pytest.raises(ValueError, match=r"seq.out:1: 1 tags for 2 words"):
        corpora.read_atis(tmp_path / "atis")
    with pytest.raises(ValueError, match="unknown dataset"):
        corpora.load("ontonotes", tmp_path)


def test_vocab_unknown_words_and_digits():
    vocab = vocabulary.word_vocab([["Paris", "in", "1996"], ["in"]])
    ids = vocab.encode([vocabulary.normalise(w) for w in ["in", "2001", "London"]])
    assert ids[0] == vocab.ids["in"] and ids[1] == vocab.ids["0000"] and ids[2] == vocabulary.UNK
    assert vocabulary.word_vocab([["a", "b", "a"]], min_count=2).tokens == ["<pad>", "<unk>", "a"]


def test_glove_loader(tmp_path):
    vocab = vocabulary.word_vocab([["Paris", "is"]])
    path = tmp_path / "glove.txt"
    path.write_text("paris 1 2 3\nis 4 5 6\nzebra 7 8 9\n")
    table = vocabulary.load_glove(path, vocab, dim=3)
    np.testing.assert_array_equal(table[vocab.ids["Paris"]], [1, 2, 3])  # found via lower case
    np.testing.assert_array_equal(table[vocab.ids["is"]], [4, 5, 6])
    assert not table[vocabulary.PAD].any()
    path.write_text("paris 1 2\n")
    with pytest.raises(ValueError, match=r"glove.txt:1: 2 values, expected dim=3"):
        vocabulary.load_glove(path, vocab, dim=3)
