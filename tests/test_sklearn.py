"""neuraldigits.sklearn.NetworkClassifier: a scikit-learn estimator that trains like Network.sgd."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from support.data import digits

import neuraldigits.sklearn as nd_sklearn
from neuraldigits.network import Network
from neuraldigits.sklearn import NetworkClassifier


# Every check scikit-learn runs on its own estimators (55 in 1.9), each its own test.
@parametrize_with_checks([NetworkClassifier()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_fit_trains_exactly_as_network_sgd_with_the_same_seed():
    X, y = digits(300, seed=1)
    clf = NetworkClassifier((20,), epochs=3, eta=3.0, random_state=7).fit(X, y)
    net = Network([784, 20, 10], seed=7)
    net.sgd((X, y), 3, 10, 3.0)
    for ours, theirs in zip(clf.network_.weights + clf.network_.biases, net.weights + net.biases):
        np.testing.assert_array_equal(ours, theirs)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.validation_scores_ is None


def test_epochs_of_partial_fit_equal_fit_and_reuse_the_prepared_set(monkeypatch):
    X, y = digits(200, seed=2)
    settings = dict(epochs=3, eta=0.5, cost="cross-entropy", lmbda=1.0, momentum=0.5)
    fitted = NetworkClassifier((15,), random_state=3, **settings).fit(X, y)
    calls = []
    real_prepare = nd_sklearn.prepare
    monkeypatch.setattr(nd_sklearn, "prepare", lambda data: calls.append(1) or real_prepare(data))
    stepped = NetworkClassifier((15,), random_state=3, **settings)
    for _ in range(3):
        stepped.partial_fit(X, y, classes=np.arange(10))
    assert len(calls) == 1  # prepared once for the three calls on the same arrays
    for a, b in zip(fitted.network_.weights, stepped.network_.weights):
        np.testing.assert_array_equal(a, b)
    assert stepped.n_iter_ == 3
    np.testing.assert_allclose(stepped.loss_curve_, fitted.loss_curve_)
    stepped.partial_fit(X.copy(), y)  # other arrays: prepared afresh
    assert len(calls) == 2 and stepped.n_iter_ == 4


def test_partial_fit_needs_classes_first_and_refuses_unknown_labels():
    X, y = digits(50)
    with pytest.raises(ValueError, match="classes"):
        NetworkClassifier().partial_fit(X, y)
    clf = NetworkClassifier().partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 10)


def test_any_labels_any_features_and_normalised_activations():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))  # not pixels: mean-0 features of any width
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    clf = NetworkClassifier((8,), epochs=20, eta=1.0, random_state=0).fit(X, y)
    assert list(clf.classes_) == ["no", "yes"] and clf.n_features_in_ == 5
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    activations = clf.network_.feedforward(X.astype(np.float32))
    np.testing.assert_allclose(proba, activations / activations.sum(axis=1, keepdims=True))
    decision = clf.decision_function(X)  # two classes: one score, positive for classes_[1]
    assert decision.shape == (120,)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(decision > 0).astype(int)])


def test_early_stopping_holds_out_validation_data_and_keeps_the_best_epoch():
    X, y = digits(400, seed=3)
    clf = NetworkClassifier(
        (10,), epochs=40, early_stopping=True, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    assert clf.n_iter_ < 40  # synthetic digits are learnt in a few epochs; then it stops
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_bad_settings_are_refused_by_name():
    X, y = digits(30)
    for params, word in (
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(cost="hinge"), "cost"),
        (dict(init="zeros"), "init"),
        (dict(validation_fraction=1.5), "validation_fraction"),
        (dict(eta=0.0), "eta"),
        (dict(momentum=1.0), "momentum"),
    ):
        with pytest.raises(ValueError, match=word):
            NetworkClassifier(**params).fit(X, y)


def test_a_fitted_estimator_pickles_without_its_cache():
    X, y = digits(60)
    clf = NetworkClassifier((5,), random_state=0).partial_fit(X, y, classes=np.arange(10))
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    assert not hasattr(again, "_prepared_cache")


def test_grid_search_over_a_pipeline_and_cross_validation_on_mnist(mnist):
    (images, labels), _, (test_images, test_labels) = mnist
    X, y = images[:10_000], labels[:10_000]
    pipeline = Pipeline(
        [("scale", MinMaxScaler()), ("net", NetworkClassifier(epochs=5, random_state=0))]
    )
    grid = GridSearchCV(
        pipeline, {"net__eta": [0.5, 3.0], "net__hidden_layer_sizes": [(10,), (30,)]},
        cv=2,
    )  # fmt: skip
    grid.fit(X, y)
    # The book's η = 3 learns in 5 epochs of 5,000 images (~0.87); η = 0.5 is still slow (~0.5).
    assert grid.best_params_["net__eta"] == 3.0
    assert grid.best_score_ > 0.8
    assert grid.score(test_images[:1000], test_labels[:1000]) > 0.8
    # Standardised pixels need chapter 3's N(0, 1/n_in) weights, or the hidden layer saturates.
    net = NetworkClassifier(epochs=3, eta=0.1, cost="cross-entropy", init="scaled")
    scores = cross_val_score(Pipeline([("scale", StandardScaler()), ("net", net)]), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_pickling_keeps_the_cache_of_the_estimator_pickled():
    X, y = digits(40)
    clf = NetworkClassifier((5,), random_state=0).partial_fit(X, y, classes=np.arange(10))
    pickle.dumps(clf)
    assert clf._prepared_cache is not None  # still there for the next partial_fit
