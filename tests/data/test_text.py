"""Character data: corpus, vocabulary, contiguous splits, unigram baseline."""

import math

import numpy as np
import pytest

from jnn import config as config_lib
from jnn import data
from jnn.data import text
from jnn.data.config import TextConfig
from jnn.data.dataset import Dataset
from jnn.data.sources import baselines


def test_default_corpus_is_the_pydoc_topics():
    from pydoc_data.topics import topics

    corpus = text.read_corpus()
    assert corpus.startswith(topics[min(topics)])
    assert len(corpus) > 100_000 and "The " in corpus


def test_vocab_encode_decode_round_trip():
    vocab = text.build_vocab("hello world")
    assert vocab == " dehlorw"
    ids = text.encode("world", vocab)
    assert ids.dtype == np.int32 and ids.tolist() == [7, 5, 6, 4, 1]
    assert text.decode(ids, vocab) == "world"


def test_unknown_characters_are_an_error_or_dropped():
    with pytest.raises(
        ValueError,
        match=r"encode: expected characters in the 3-character .*\['x', 'z'\]",
    ):
        text.encode("abzx", "abc")
    assert text.encode("abzx", "abc", unknown="drop").tolist() == [0, 1]
    with pytest.raises(ValueError, match="expected `unknown` to be one of"):
        text.encode("a", "abc", unknown="skip")


def test_windows_shift_targets_by_one():
    got = text.windows(np.arange(10, dtype=np.int32), 4)
    np.testing.assert_array_equal(got.x, [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(got.y, [[1, 2, 3, 4], [5, 6, 7, 8]])


def test_splits_are_contiguous_blocks_in_order():
    tokens = np.arange(100, dtype=np.int32)  # token value = position in the text
    train, val, test = text.text_splits(tokens, 4, 0.1, 0.2)
    # test: the last 20 positions; val: the 8 before; train: the first 72.
    assert train.y.max() < 72 <= val.x.min() and val.y.max() < 80 <= test.x.min()
    assert [len(p.x) for p in (train, val, test)] == [17, 1, 4]


def test_split_too_short_for_a_window_names_it():
    with pytest.raises(ValueError, match=r"text \(val split\): expected at least"):
        text.text_splits(np.arange(100, dtype=np.int32), 8, 0.05, 0.2)


def test_unigram_baselines_by_hand():
    tokens = np.array([0, 0, 1, 1])
    assert text.unigram_entropy_bits(tokens, 4) == pytest.approx(1.0)
    # add-one smoothing: counts (3, 3, 1, 1) / 8
    np.testing.assert_allclose(
        np.exp(text.unigram_log_probs(tokens, 4)), [3 / 8, 3 / 8, 1 / 8, 1 / 8]
    )
    assert text.bits(math.log(8)) == pytest.approx(3.0)


def test_load_text_from_a_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("abcabcabd" * 20, encoding="utf-8")
    cfg = TextConfig(path=str(path), seq_len=5)
    splits = data.load(cfg)
    assert splits.num_classes == 4  # a b c d
    assert splits.train.x.dtype == np.int32 and splits.train.x.shape[1:] == (5,)
    assert baselines(cfg)["train_unigram_bits"] < 2.0  # 4 symbols at most
    assert baselines(cfg, splits) == baselines(cfg)  # given splits: not re-read


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "existing UTF-8 file"), (b"\xff\xfe\xfa", "to be UTF-8 text")],
)
def test_bad_text_files(tmp_path, content, match):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        text.read_corpus(str(path))


def test_check_tokens_rejects_out_of_range_ids():
    ids = np.array([[0, 5]], np.int32)
    with pytest.raises(ValueError, match=r"demo: expected token ids in \[0, 3\)"):
        text.check_tokens(Dataset(ids, ids), "demo", 3)
    with pytest.raises(TypeError, match="integer token ids"):
        text.check_tokens(Dataset(ids.astype(np.float32), ids), "demo", 9)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            ["data.name=text"],
            r"`model.kind` one of \['rnn_lm', 'transformer_lm'\] with",
        ),
        (["model.kind=rnn_lm"], r"got kind 'rnn_lm' with data 'digits'"),
        (
            ["data.name=text", "model.kind=rnn_lm", "model.bidirectional=true"],
            r"got `model.bidirectional`. Hint: .* is read by model.kind 'rnn' only",
        ),
    ],
)
def test_config_pairs_text_with_rnn_lm(overrides, match):
    with pytest.raises(ValueError, match=match):
        config_lib.replace(config_lib.Config(), overrides)
