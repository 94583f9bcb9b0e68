"""CoNLL-2003 / ATIS / FMTOD readers, tag schemes, vocabularies and pretrained vectors."""

import gzip

import jax
import numpy as np
import pytest
from ml_collections import ConfigDict

from tapjax.al import corpora, learner, vocabulary
from tapjax.common.errors import InputError


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


def _splits():
    """Tiny splits: a labeled and an unlabeled training sentence, validation, and a test sentence
    whose words (and the character ``ü``) occur nowhere else."""
    return {"train": corpora.Tagged([["Paris", "is", "big"], ["Ljubljana", "is", "small"]],
                                    [["B-LOC", "O", "O"], ["B-LOC", "O", "O"]]),
            "validation": corpora.Tagged([["Oslo", "1996"]], [["B-LOC", "O"]]),
            "test": corpora.Tagged([["Zürich", "is", "big"]], [["B-LOC", "O", "O"]])}


def _model_cfg(**fields):
    return ConfigDict(dict(dict(embed_dim=3, min_count=1, chars=True, vectors=()), **fields))


def test_pool_vocabulary_holds_unlabeled_and_validation_words_never_test_words():
    """The learner sees every training sentence's words (labeled or not) and the validation
    text; a word or character only the test set has stays unknown, whatever the test set."""
    splits = _splits()
    vocabs = learner.vocabularies(splits, _model_cfg())
    assert {"Paris", "Ljubljana", "small", "Oslo", "0000"} <= set(vocabs.words.tokens)
    assert "Zürich" not in vocabs.words.ids and "ü" not in vocabs.chars.ids and "j" in vocabs.chars.ids
    test = vocabs.encode(splits["test"])
    assert test.words[0].tolist() == [vocabulary.UNK, vocabs.words.ids["is"], vocabs.words.ids["big"]]
    assert vocabulary.UNK in test.chars[0][0].tolist()  # ü
    other_test = dict(splits, test=corpora.Tagged([["Bern"]], [["B-LOC"]]))
    assert learner.vocabularies(other_test, _model_cfg()).words.tokens == vocabs.words.tokens
    assert vocabulary.Vocabs.build(splits["train"], splits["validation"]).chars is None


def _vocab():
    return vocabulary.word_vocab([["Paris", "is", "big"]])  # <pad> <unk> Paris is big


@pytest.mark.parametrize("name, text", [
    ("glove.txt", "paris 1 2 3\nis 4 5 6\nzebra 7 8 9\n"),
    ("word2vec.txt", "3 3\nparis 1 2 3 \nis 4 5 6 \nzebra 7 8 9 \n"),  # header; C word2vec's trailing spaces
    ("glove.840B.txt", "paris 1 2 3\n. . . 0 0 0\n\nis 4 5 6\nis 9 9 9\n"),  # a key with spaces, a blank line
    ("glove.txt.gz", "paris 1 2 3\nis 4 5 6\n"),
])
def test_vectors_file_formats(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    vocab = _vocab()
    table = vocabulary.load_vectors([path], vocab, dim=3)
    assert table.shape == (5, 3) and table.dtype == np.float32
    np.testing.assert_array_equal(table[vocab.ids["Paris"]], [1, 2, 3])  # found via its lower case
    np.testing.assert_array_equal(table[vocab.ids["is"]], [4, 5, 6])  # a repeated key: its first line
    assert not table[vocabulary.PAD].any()


def test_vectors_files_concatenate_in_order_with_kazuma_character_ngrams(tmp_path):
    """A word's block from a character n-gram file (Kazuma's) is the mean of its n-grams' vectors."""
    assert vocabulary.char_ngrams("is") == ["2gram-#BEGIN#i", "2gram-is", "2gram-s#END#", "3gram-#BEGIN#is",
                                            "3gram-is#END#", "4gram-#BEGIN#is#END#"]
    assert vocabulary.char_ngrams("aa") == ["2gram-#BEGIN#a", "2gram-aa", "2gram-a#END#", "3gram-#BEGIN#aa",
                                            "3gram-aa#END#", "4gram-#BEGIN#aa#END#"]
    (tmp_path / "glove.txt").write_text("paris 1 2 3\nis 4 5 6\nbig 7 8 9\n")
    (tmp_path / "charNgram.txt").write_text(
        "2gram-#BEGIN#i 1 0\n2gram-is 0 1\n3gram-is#END# 2 2\n2gram-bi 3 3\n1gram-x 9 9\n")
    vocab = vocabulary.word_vocab([["Paris", "is", "BIG", "zz"]])
    table = vocabulary.load_vectors([tmp_path / "glove.txt", tmp_path / "charNgram.txt"], vocab, dim=5)
    np.testing.assert_array_equal(table[vocab.ids["is"]], [4, 5, 6, 1, 1])
    np.testing.assert_array_equal(table[vocab.ids["Paris"]], [1, 2, 3, 1, 1.5])  # shares 2gram-is, 3gram-is#END#
    np.testing.assert_array_equal(table[vocab.ids["BIG"]], [7, 8, 9, 3, 3])  # no n-gram of BIG: of big
    assert table[vocab.ids["zz"]].all() and not table[vocabulary.PAD].any()  # in neither file: initialised


def test_words_missing_from_a_vectors_file_get_seeded_vectors_of_its_scale(tmp_path):
    rng = np.random.default_rng(0)
    words = [a + b for a in "abcdefghij" for b in "abcdefghijklmnopqrstuvwxy"]  # 250 words
    (tmp_path / "v.txt").write_text("".join(w + " " + " ".join(f"{x:.4f}" for x in rng.normal(0, 10, 20)) + "\n"
                                            for w in words[:50]))
    vocab = vocabulary.word_vocab([words[25:]])  # 25 words of the file, 200 missing
    table = vocabulary.load_vectors([tmp_path / "v.txt"], vocab, dim=20)
    missing = table[[vocab.ids[w] for w in words[50:]] + [vocabulary.UNK]]
    assert 7 < missing.std() < 13 and len(np.unique(missing, axis=0)) == 201  # N(0, s²), s of the file's vectors
    np.testing.assert_array_equal(vocabulary.load_vectors([tmp_path / "v.txt"], vocab, dim=20), table)
    assert not np.array_equal(vocabulary.load_vectors([tmp_path / "v.txt"], vocab, dim=20, seed=1), table)


@pytest.mark.parametrize("text, error", [
    ("paris 1 2 3\nis 4 5\n", r"glove.txt:2: 2 values, expected 3 \(as its first line\)"),
    ("paris 1 2 3\nis 4 5 6 7\n", r"glove.txt:2: 4 values, expected 3 \(as its first line\)"),
    ("2 3\nparis 1 2 3\nis 4 5\n", r"glove.txt:3: 2 values, expected 3 \(as its header\)"),
    ("paris 1 2 3\nis 4 five 6\n", r"glove.txt:2: a value of 'is' is not a number"),
    ("zebra 1 2 3\n", r"glove.txt: no word of the vocabulary has a vector"),
    ("", r"glove.txt:1: not a vectors file"),
])
def test_bad_vectors_file_is_an_error_naming_file_and_line(tmp_path, text, error):
    (tmp_path / "glove.txt").write_text(text)
    with pytest.raises(ValueError, match=error):
        vocabulary.load_vectors([tmp_path / "glove.txt"], _vocab(), dim=3)


def test_vectors_dimensions_must_add_up_to_the_embedding_size(tmp_path):
    (tmp_path / "a.txt").write_text("paris 1 2 3\n")
    (tmp_path / "b.txt").write_text("paris 1 2\n")
    paths = (str(tmp_path / "a.txt"), str(tmp_path / "b.txt"))
    with pytest.raises(InputError, match=r"model_cfg.vectors: the vectors files give .*a.txt \(3\) \+ "
                                         r".*b.txt \(2\) = 5 dimensions, not the embedding size 4 \(embed_dim\)"):
        learner.vocabularies(_splits(), _model_cfg(embed_dim=4, vectors=paths))
    with pytest.raises(InputError, match=r"model_cfg.vectors: .*nosuch.txt"):
        learner.vocabularies(_splits(), _model_cfg(vectors=(str(tmp_path / "nosuch.txt"),)))


def test_pretrained_table_starts_every_round(tmp_path):
    """The vectors are read once per run (:func:`learner.vocabularies`) and replace the word table."""
    (tmp_path / "v.txt").write_text("paris 1 2 3\noslo 4 5 6\n")
    vocabs = learner.vocabularies(_splits(), _model_cfg(vectors=(str(tmp_path / "v.txt"),)))
    config = ConfigDict(dict(model="tagger", model_cfg=dict(embed_dim=3, hidden=4, dropout=0.5)))
    model = learner.build_model(config, vocabs)
    data = vocabs.encode(_splits()["train"])
    params = learner.init_params(model, data, ConfigDict(dict(buckets=(8,), max_word=20)), jax.random.key(0))
    table = learner.with_pretrained(params, vocabs)["params"]["encoder"]["embed"]["embedding"]
    assert table.shape == (len(vocabs.words), 3)
    np.testing.assert_array_equal(table, vocabs.vectors)
    np.testing.assert_array_equal(table[vocabs.words.ids["Oslo"]], [4, 5, 6])
