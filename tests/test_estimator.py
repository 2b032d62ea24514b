"""SymNMFClustering, the scikit-learn-style estimator of API v2."""
import re
import subprocess
import sys

import pytest
import torch
from torch_geometric.data import Data

import pyg_symnmf as ps
from pyg_symnmf import SymNMFClustering, SymNMFNet, datasets, metrics
from pyg_symnmf.estimator import FitPlan
from pyg_symnmf.readout import overlapping_communities
from pyg_symnmf.testing import random_graph


@pytest.fixture(scope='module')
def planted():
    return datasets.sbm((30, 30, 30), p_in=0.4, p_out=0.02, seed=0)


def test_sklearn_clone_and_get_set_params_round_trip():
    from sklearn.base import clone
    est = ps.SymNMFClustering(k=3)
    params = est.get_params()
    assert params['k'] == 3 and params['method'] == 'anls'
    assert set(params) == {'k', 'method', 'num_layers', 'epochs', 'lr',
                           'encoder', 'deep_supervision', 'max_iter', 'tol',
                           'alpha', 'normalize', 'pretrained', 'loss', 'seed',
                           'n_jobs', 'resolution', 'refine', 'verbose',
                           'features', 'n_init', 'discriminant'}
    copy = clone(est)
    assert copy is not est and type(copy) is SymNMFClustering
    assert copy.get_params() == params
    # set_params returns self and get_params reflects it.
    assert est.set_params(k=5, method='net', epochs=7, seed=3) is est
    changed = est.get_params()
    assert (changed['k'], changed['method'], changed['epochs'],
            changed['seed']) == (5, 'net', 7, 3)
    assert SymNMFClustering(**changed).get_params() == changed
    assert clone(est).get_params() == changed
    assert copy.get_params() == params  # the clone is independent
    with pytest.raises(ValueError, match='Invalid parameter'):
        est.set_params(num_blocks=3)


def test_clone_of_a_fitted_estimator_is_unfitted(planted):
    from sklearn.base import clone
    est = SymNMFClustering(k=3, max_iter=20, tol=0.0).fit(planted)
    assert hasattr(est, 'labels_')
    copy = clone(est)
    assert not hasattr(copy, 'labels_') and not hasattr(copy, 'model_')
    with pytest.raises(RuntimeError, match='not fitted'):
        copy.predict(planted)


def test_symnmf_net_is_a_layer_stack_without_a_training_api():
    net = SymNMFNet(3, num_layers=2)
    for name in ('fit', 'predict', 'embed', 'membership', 'loss_history_',
                 'num_blocks', 'seed', 'encoder'):
        assert not hasattr(net, name), name
        assert not hasattr(SymNMFNet, name), name
    assert net.num_layers == 2
    assert hasattr(SymNMFClustering, 'fit')


def test_importing_the_package_loads_no_heavy_optional_dependency():
    # Measured against torch_geometric's own imports: with the `sparse`
    # extra installed, torch_geometric itself loads scipy (via torch_sparse).
    code = ("import sys, torch_geometric; before = set(sys.modules); "
            "import pyg_symnmf; heavy = ('sklearn', 'scipy', 'networkx', "
            "'matplotlib'); new = [m for m in heavy if m in sys.modules "
            "and m not in before]; assert not new, new")
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize('method', ['net', 'anls'])
def test_fit_returns_self_and_sets_the_fitted_attributes(planted, method):
    options = dict(num_layers=5, epochs=3) if method == 'net' else \
        dict(max_iter=20, tol=0.0)
    est = SymNMFClustering(3, method, **options)
    assert est.fit(planted) is est
    assert est.n_communities_ == 3
    assert est.embedding_.shape == (90, 3)
    assert bool((est.embedding_ >= 0).all())
    assert torch.equal(est.labels_, est.embedding_.argmax(1))
    assert est.n_iter_ == (3 if method == 'net' else 20)
    assert len(est.loss_curve_) == (3 if method == 'net' else 21)
    assert (est.model_ is None) == (method != 'net')
    assert torch.equal(est.fit_predict(planted), est.labels_)


def test_fitted_attributes_are_reset_by_every_fit(planted):
    est = SymNMFClustering(3, 'net', num_layers=3, epochs=4)
    est.fit(planted)
    assert len(est.loss_curve_) == est.n_iter_ == 4
    first_model = est.model_
    est.fit(planted)
    assert len(est.loss_curve_) == est.n_iter_ == 4  # not 8: no growth
    assert est.model_ is not first_model  # a fresh net, not fine-tuning
    est.set_params(epochs=2).fit(planted)
    assert len(est.loss_curve_) == est.n_iter_ == 2
    # The net's parameters go with it (a classical method refuses them).
    est.set_params(method='anls', num_layers=None, epochs=None, max_iter=5,
                   tol=0.0).fit(planted)
    assert est.model_ is None and est.n_iter_ == 5
    assert len(est.loss_curve_) == 6
    other = Data(edge_index=random_graph()[0], num_nodes=30)
    est.set_params(method='net', num_layers=3, epochs=1, max_iter=300,
                   tol=1e-6).fit(other)
    assert est.embedding_.shape == (30, 3) and est.labels_.shape == (30,)
    # A failed fit leaves no stale attributes of the previous one.
    with pytest.raises(ValueError):
        est.set_params(k=0).fit(planted)
    for name in ('n_communities_', 'labels_', 'embedding_', 'loss_curve_',
                 'n_iter_', 'model_'):
        assert not hasattr(est, name), name


def test_same_net_trained_twice_gives_the_same_fitted_attributes(planted):
    est = SymNMFClustering(3, 'net', num_layers=3, epochs=4, seed=1)
    first = est.fit(planted).embedding_.clone()
    curve = list(est.loss_curve_)
    assert torch.equal(est.fit(planted).embedding_, first)
    assert est.loss_curve_ == curve


def test_transform_runs_exactly_one_forward_pass_of_the_net(planted):
    est = SymNMFClustering(3, 'net', pretrained=False, num_layers=4,
                           epochs=2).fit(planted)
    calls = []
    handle = est.model_.register_forward_hook(
        lambda module, args, out: calls.append(out))
    block_calls = []
    for block in est.model_.blocks:
        original = block.step
        block.step = (lambda f: lambda *a, **k: (block_calls.append(1),
                                                  f(*a, **k))[1])(original)
    try:
        soft = est.transform(planted)
    finally:
        handle.remove()
    assert len(calls) == 1
    assert len(block_calls) == 4  # one pass through the 4 blocks
    torch.testing.assert_close(soft.sum(1), torch.ones(90))
    torch.testing.assert_close(soft, calls[0] / calls[0].sum(1,
                                                             keepdim=True))


def test_readouts(planted):
    est = SymNMFClustering(3, 'net', num_layers=5, epochs=0).fit(planted)
    h = est.embedding_
    soft = est.transform(planted)
    torch.testing.assert_close(soft.sum(1), torch.ones(planted.num_nodes))
    torch.testing.assert_close(soft, h / h.sum(1, keepdim=True))
    assert torch.equal(est.predict(planted), h.argmax(1))
    mask = overlapping_communities(soft, threshold=0.3)
    assert mask.dtype == torch.bool and bool(mask.any(1).all())
    assert torch.equal(mask, (soft >= 0.3) | torch.nn.functional.one_hot(
        h.argmax(1), 3).bool())
    with pytest.raises(ValueError, match='NaN or Inf'):
        overlapping_communities(torch.full((3, 2), float('nan')))


def test_classical_method_recovers_the_partition(planted):
    est = SymNMFClustering(3, 'anls').fit(planted)
    assert metrics.nmi(planted.y, est.labels_) >= 0.95
    assert all(b <= a for a, b in zip(est.loss_curve_,
                                      est.loss_curve_[1:]))
    assert torch.equal(est.predict(planted), est.labels_)


def test_repr_shows_the_changed_parameters():
    assert repr(SymNMFClustering()) == 'SymNMFClustering()'
    assert repr(SymNMFClustering(3, 'net', epochs=5)) == \
        "SymNMFClustering(k=3, method='net', epochs=5)"


@pytest.mark.parametrize('params,error,match', [
    ({'method': 'kmeans'}, ValueError, 'Unknown method'),
    ({'k': 0}, ValueError, '>= 1'),
    ({'k': 2.5}, TypeError, 'must be an int'),
    ({'num_layers': -1}, ValueError, 'num_layers'),
    ({'epochs': -1}, ValueError, 'epochs'),
    ({'lr': 0.0}, ValueError, 'lr'),
    ({'seed': -1}, ValueError, 'seed'),
    ({'encoder': torch.nn.Identity()}, ValueError, "method='net'"),
])
def test_invalid_parameters_are_reported_at_fit(planted, params, error,
                                               match):
    est = SymNMFClustering(**params)  # scikit-learn: __init__ only stores
    with pytest.raises(error, match=match):
        est.fit(planted)


def test_a_batch_and_an_encoder_without_features_are_refused(planted):
    from torch_geometric.data import Batch
    batch = Batch.from_data_list([planted, planted])
    with pytest.raises(ValueError, match='batch'):
        SymNMFClustering(3).fit(batch)
    from torch_geometric.nn.models import GCN
    est = SymNMFClustering(3, 'net', encoder=GCN(4, 8, 1, out_channels=3))
    with pytest.raises(ValueError, match='data.x'):
        est.fit(Data(edge_index=planted.edge_index, num_nodes=90))


def test_fine_tuning_computes_the_constant_start_once(planted, count_calls):
    from pyg_symnmf import estimator as module
    calls = count_calls(module, 'spectral_membership')
    SymNMFClustering(3, method='net', epochs=5).fit(planted)
    assert len(calls) == 1  # once for training and inference, not per epoch


def test_parameters_the_mode_ignores_are_refused(planted):
    with pytest.raises(ValueError, match='deep_supervision'):
        SymNMFClustering(3, method='net', deep_supervision=0.5).fit(planted)


@pytest.mark.parametrize('method, params, message', [
    ('anls', dict(epochs=5), "'epochs'=5 applies to method='net' only"),
    ('anls', dict(num_layers=4), "'num_layers'=4 applies to method='net'"),
    ('hals', dict(lr=0.1), "'lr'=0.1 applies to method='net' only"),
    ('anls', dict(pretrained=True), "'pretrained'=True applies to"),
    ('anls', dict(deep_supervision=0.5), "'deep_supervision'=0.5 applies"),
    ('net', dict(max_iter=10), "'max_iter'=10 applies to the classical"),
    ('net', dict(tol=0.1), "'tol'=0.1 applies to the classical"),
    ('net', dict(n_init=3), "'n_init'=3 applies to the classical"),
    ('net', dict(alpha=0.5), "'alpha'=0.5 has no effect on the pretrained"),
    ('net', dict(deep_supervision=0.5), "has no effect on the pretrained"),
])
def test_a_parameter_the_mode_ignores_is_refused(planted, method, params,
                                                 message):
    est = SymNMFClustering(3, method, **params)
    with pytest.raises(ValueError, match=re.escape(message)):
        est.fit(planted)


def test_the_plan_says_what_fit_runs():
    assert SymNMFClustering(3).plan() == FitPlan('classical')
    assert SymNMFClustering(3, 'net').plan() == FitPlan('pretrained')
    assert SymNMFClustering(3, 'net', pretrained=False).plan() == \
        FitPlan('fresh', num_layers=20, epochs=200)
    plan = SymNMFClustering(3, 'net', encoder='gcn').plan()
    assert plan == FitPlan('fresh', encoded=True, num_layers=2, epochs=300)
    assert not plan.guarded and SymNMFClustering(3, 'net').plan().guarded
    assert SymNMFClustering(3, 'net', epochs=5).plan().loss_curve == 'epochs'
    assert SymNMFClustering(3, 'net').plan().loss_curve == 'blocks'
    # What the mode uses is accepted: alpha for a fresh net, max_iter for
    # the Bernoulli-Poisson refinement.
    SymNMFClustering(3, 'net', pretrained=False, alpha=0.5).plan()
    SymNMFClustering(3, 'net', loss='bernoulli_poisson', max_iter=20).plan()


@pytest.mark.parametrize('k', [3, 'auto'])
def test_fit_builds_the_operator_once(planted, count_calls, k):
    # The normalised operator, the raw weights of modularity, the k
    # selection, the refinement and the cover all read one build.
    import pyg_symnmf.adjacency as adjacency
    builds = count_calls(adjacency, '_to_coo')
    est = SymNMFClustering(k).fit(planted)
    assert len(builds) == 1
    est.predict(planted)
    assert len(builds) == 2
    # A built operator is used as it is.
    raw = ps.to_adjacency(planted.edge_index, normalize=False)
    builds.clear()
    labels = SymNMFClustering(k, normalize=True).fit(raw).labels_
    assert builds == [] and torch.equal(labels, est.labels_)
