import pytest

from mfcheck.errors import InvalidArgument
from mfcheck.claims.tiers import TIERS, get_tier


@pytest.mark.parametrize("name", sorted(TIERS))
def test_cells_sit_on_their_side_of_the_kink(name):
    tier = get_tier(name)
    for path, N, eps in tier.cells():
        if path == "N":
            assert eps * N == pytest.approx(1 / tier.kink)
        else:
            assert eps * N == pytest.approx(tier.kink)
        # the record grid (spacing 1/16) is a multiple of every eps
        assert (1 / 16) / eps == pytest.approx(round((1 / 16) / eps))


def test_default_tier_meets_the_sweep_requirements():
    tier = get_tier("ci")
    assert len(tier.N_path) >= 4 and max(tier.N_path) / min(tier.N_path) >= 16
    assert len(tier.eps_path) >= 4 and max(tier.eps_path) / min(tier.eps_path) >= 16
    assert tier.replicates >= 20


def test_unknown_tier():
    with pytest.raises(InvalidArgument, match="tier"):
        get_tier("huge")
