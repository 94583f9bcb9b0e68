"""Tokenizer cases for every construct of the CROHME truths."""

import pytest

from tapjax.tap.ink.latex import canonical_number, tokenize
from tapjax.tap.ink.symbols import Vocab


@pytest.mark.parametrize("truth, tokens", [
    ("$x_k$", "x _ { k }"),
    (r"$\frac{a}{b}$", r"\frac { a } { b }"),
    (r"$\frac1p$", r"\frac { 1 } { p }"),
    (r"$\frac 1 {a_1 + \ldots}$", r"\frac { 1 } { a _ { 1 } + \ldots }"),
    (r"$\sqrt{x}$", r"\sqrt { x }"),
    (r"$\sqrt[3]{x-y}$", r"\sqrt [ 3 ] { x - y }"),
    (r"$ \sqrt {x ^ {p}} ABOVE {q} $", r"\sqrt [ q ] { x ^ { p } }"),
    ("$x^{2}_{1}$", "x _ { 1 } ^ { 2 }"),
    ("$x ^ {2} _ {}$", "x ^ { 2 }"),
    ("$e^{-x}$", "e ^ { - x }"),
    ("${x^{2}}+{{y}}$", "x ^ { 2 } + y"),
    (r"$\lim_{x \to 0} f$", r"\lim _ { x \rightarrow 0 } f"),
    (r"$\lim \limits _ {n \rightarrow \infty} y _ {n}$", r"\lim _ { n \rightarrow \infty } y _ { n }"),
    (r"$\sum_{i=1}^{n} i$", r"\sum _ { i = 1 } ^ { n } i"),
    (r"$\sum^{n}_{i=1} i$", r"\sum _ { i = 1 } ^ { n } i"),
    (r"$\int\limits_{0}^{1} x dx$", r"\int _ { 0 } ^ { 1 } x d x"),
    (r"$a_1, \ldots, a_n$", r"a _ { 1 } , \ldots , a _ { n }"),
    (r"$a \lt b \gt c$", "a < b > c"),
    (r"$M\ltN$", "M < N"),
    (r"$a \le b \ge c \ne d$", r"a \leq b \geq c \neq d"),
    (r"$f^{\prime}(x) = y'$", r"f ^ { \prime } ( x ) = y '"),
    (r"$\left( x \right)$", "( x )"),
    (r"$\{ x \}$", r"\{ x \}"),
    (r"$\lbrack x \rbrack$", "[ x ]"),
    (r"$\mbox{sin} x + \mathrm{d}x$", r"\sin x + d x"),
    ("$l o g 5$", r"\log 5"),
    (r"$\sin^{2} x + \cos\theta$", r"\sin ^ { 2 } x + \cos \theta"),
    (r"$a \times b \div c \pm d \cdot e$", r"a \times b \div c \pm d \cdot e"),
    (r"$\forall x \exists y \in A$", r"\forall x \exists y \in A"),
    ("$64$", "6 4"),
    ("08.40", "8 . 4"),
    ("$ $x$ $", "x"),
    ("$a}$", "a"),
])
def test_tokenize(truth, tokens):
    assert tokenize(truth) == tokens.split()


def test_canonical_number():
    assert [canonical_number(s) for s in ["9.0", "02", "0.0", "64.40", "10"]] == [
        "9", "2", "0", "64.4", "10"]


def test_out_of_vocabulary_tokens_are_kept_for_reporting(data_root):
    vocab = Vocab.from_data_root(data_root)
    tokens = tokenize(r"$2 \Pi + x$")
    assert tokens == ["2", r"\Pi", "+", "x"]
    assert vocab.unknown(tokens) == [r"\Pi"]
    with pytest.raises(KeyError, match=r"\\Pi"):
        vocab.encode(tokens)


def test_vocab(data_root):
    vocab = Vocab.from_data_root(data_root)
    assert len(vocab) == 111 and vocab.symbols[0] == "<eol>"
    ids = vocab.encode(r"\frac { a } { b }".split())
    assert vocab.decode(ids + [0, 5]) == r"\frac { a } { b }".split()
