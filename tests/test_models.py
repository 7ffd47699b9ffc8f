"""The shared saliency U-Net and its encoders (strict by-name ImageNet loading, shapes, bad input)."""

from __future__ import annotations

import types

import pytest
import torch

from vsodboost import hookimpl, plugins
from vsodboost._weights import load_checkpoint, load_state_dict_strict
from vsodboost.errors import InputError, MissingWeightsError, PluginError, UnknownNameError, WeightsError
from vsodboost.models import (ENCODERS, MSDA, EncoderSpec, SaliencyUNet, UNetConfig, create_encoder, encoder_spec,
                              lite0_to_timm, saliency_unet)
from vsodboost.models.encoders import lite0_imagenet_path


@pytest.fixture(scope="module")
def lite0_ckpt() -> dict[str, torch.Tensor]:
    return load_checkpoint(lite0_imagenet_path())


def test_encoders_come_from_the_registry_with_its_unknown_name_error():
    assert plugins.encoders().names() == ["tf_efficientnet_lite0", "vgg16"]
    assert encoder_spec("vgg16") is ENCODERS["vgg16"]
    with pytest.raises(UnknownNameError, match="unknown encoder 'resnet'; available: tf_efficientnet_lite0, vgg16"):
        saliency_unet("resnet", pretrained=False)
    with pytest.raises(TypeError):  # the built-in table is read-only: adding goes through the hook
        ENCODERS["resnet"] = ENCODERS["vgg16"]  # type: ignore[index]


def test_a_plugin_encoder_builds_the_unet_and_a_non_spec_is_refused():
    mod = types.ModuleType("encoder_plugin")

    @hookimpl
    def register_encoders(register):
        register("resnet18", EncoderSpec("resnet18", "resnet18", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                                         (0, 1, 2, 3, 4)))
        register("bare", lambda: torch.nn.Identity())

    mod.register_encoders = register_encoders  # type: ignore[attr-defined]
    plugins.register_plugin(mod, name="encoder_plugin")
    try:
        net = saliency_unet("resnet18", pretrained=False).eval()
        assert net.config.mean == (0.485, 0.456, 0.406)
        assert list(net.encoder.feature_info.channels()) == [64, 64, 128, 256, 512]
        with torch.no_grad():
            assert net(torch.rand(1, 3, 64, 64)).shape == (1, 1, 64, 64)
        with pytest.raises(PluginError, match="encoder 'bare' was registered with a function.*EncoderSpec"):
            create_encoder("bare")
    finally:
        plugins.reset()
    with pytest.raises(UnknownNameError):
        create_encoder("resnet18")


def test_lite0_rename_covers_every_encoder_key(lite0_ckpt):
    mapped = lite0_to_timm(lite0_ckpt)
    enc = create_encoder("tf_efficientnet_lite0")
    assert set(mapped) == set(enc.state_dict())
    # the classifier head (conv_head, bn, fc) is the only thing dropped
    dropped = set(lite0_ckpt) - {k for k in lite0_ckpt if not k.startswith(("_conv_head.", "_bn1.", "_fc."))}
    assert len(lite0_ckpt) - len(mapped) == len(dropped) == 8


def test_lite0_rename_maps_by_name_not_position(lite0_ckpt):
    mapped = lite0_to_timm(lite0_ckpt)
    # flat block 3 is stage 2, block 0 (repeats 1, 2, 2, ...); expansion conv → conv_pw, projection → conv_pwl
    assert torch.equal(mapped["blocks.2.0.conv_pw.weight"], lite0_ckpt["_blocks.3._expand_conv.weight"])
    assert torch.equal(mapped["blocks.2.0.conv_pwl.weight"], lite0_ckpt["_blocks.3._project_conv.weight"])
    # block 0 has no expansion: its projection is timm's conv_pw and its BNs are bn1/bn2
    assert torch.equal(mapped["blocks.0.0.conv_pw.weight"], lite0_ckpt["_blocks.0._project_conv.weight"])
    assert torch.equal(mapped["blocks.0.0.bn2.running_var"], lite0_ckpt["_blocks.0._bn2.running_var"])


def test_lite0_rename_rejects_unknown_keys(lite0_ckpt):
    bad = dict(lite0_ckpt)
    bad["_blocks.3._se_reduce.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match="_se_reduce"):
        lite0_to_timm(bad)


def test_pretrained_unet_holds_imagenet_weights(lite0_ckpt):
    net = saliency_unet(pretrained=True)
    assert torch.equal(net.encoder.conv_stem.weight, lite0_ckpt["_conv_stem.weight"])
    assert net.encoder_weights_file == lite0_imagenet_path()


@pytest.mark.parametrize("cls_head", [False, True])
def test_forward_shapes(cls_head):
    net = saliency_unet(pretrained=False, cls_head=cls_head).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 96, 160))
    if cls_head:
        logits, hq = out
        assert hq.shape == (2,)
    else:
        logits = out
        assert isinstance(out, torch.Tensor)
    assert logits.shape == (2, 1, 96, 160)


def test_forward_rejects_bad_shapes():
    net = saliency_unet(pretrained=False)
    with pytest.raises(InputError, match="multiples of 32"):
        net(torch.rand(1, 3, 100, 128))
    with pytest.raises(InputError, match=r"\(B,3,H,W\)"):
        net(torch.rand(1, 2, 64, 64))


def test_normalisation_comes_from_config():
    net = saliency_unet(pretrained=False)
    assert net.mean.flatten().tolist() == [0.5, 0.5, 0.5]
    assert "mean" not in net.state_dict()  # config, not weights


def test_msda_uses_its_dilations():
    m = MSDA(40, 64, (2, 4, 6, 8))
    assert [b[0].dilation for b in m.branches] == [(2, 2), (4, 4), (6, 6), (8, 8)]
    x = torch.rand(1, 40, 16, 16)
    assert m.eval()(x).shape == (1, 64, 16, 16)
    with pytest.raises(InputError, match="divisible"):
        MSDA(40, 66)


def test_strict_load_of_another_architecture_shows_the_diff():
    mqpm = saliency_unet(pretrained=False, cls_head=True)
    spatial = saliency_unet(pretrained=False, cls_head=False)
    with pytest.raises(WeightsError) as exc:
        load_state_dict_strict(spatial, mqpm.state_dict())
    assert "unexpected in checkpoint" in str(exc.value) and "cls.fc.weight" in str(exc.value)
    wider = SaliencyUNet(UNetConfig(decoder_channels=(128, 64, 48, 40)))
    with pytest.raises(WeightsError, match="shape mismatch"):
        load_state_dict_strict(wider, spatial.state_dict())


def test_config_round_trip_and_validation():
    cfg = UNetConfig(cls_head=True, input_size=(192, 192))
    d = cfg.to_dict()
    assert all(not isinstance(v, tuple) for v in d.values())  # loadable with weights_only=True
    assert UNetConfig.from_dict(d) == cfg
    with pytest.raises(InputError, match="unknown U-Net config keys"):
        UNetConfig.from_dict({**d, "depth": 5})
    with pytest.raises(UnknownNameError, match="available"):
        UNetConfig(encoder="resnet9000")


def test_vgg16_without_weights_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VSODBOOST_HOME", str(tmp_path))
    monkeypatch.setenv("VSODBOOST_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="vgg16-397923af.pth"):
        saliency_unet("vgg16", pretrained=True)


@pytest.mark.realdata
def test_lite0_mapping_classifies_davis_frames(shared_data):
    """The renamed weights are semantically right: the full Lite0 classifier recognises the black swan."""
    import cv2
    import timm

    ckpt = load_checkpoint(lite0_imagenet_path())
    state = lite0_to_timm(ckpt)
    state["conv_head.weight"] = ckpt["_conv_head.weight"]
    state.update({f"bn2.{k}": ckpt[f"_bn1.{k}"] for k in
                  ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")})
    state["classifier.weight"], state["classifier.bias"] = ckpt["_fc.weight"], ckpt["_fc.bias"]
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(state, strict=True)
    img = cv2.imread(str(shared_data / "DAVIS2016/JPEGImages/480p/blackswan/00010.jpg"))[:, :, ::-1]
    x = torch.from_numpy(cv2.resize(img, (224, 224)).copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        probs = model.eval()((x - 0.5) / 0.5).softmax(1)
    assert probs.argmax().item() == 100  # ImageNet class 100: black swan
    assert probs.max().item() > 0.5


def test_vgg16_loads_a_torchvision_checkpoint_by_name(tmp_path):
    """The paper's encoder: a torchvision-format vgg16 file (``features.N.*`` + ``classifier.*``) loads strictly."""
    import re

    net = saliency_unet("vgg16", pretrained=False)
    fake = {re.sub(r"^features_(\d+)\.", r"features.\1.", k): v + 1 for k, v in net.encoder.state_dict().items()}
    fake["classifier.0.weight"] = torch.zeros(4, 4)  # the FC head is dropped, not an error
    torch.save(fake, tmp_path / "vgg16-397923af.pth")
    from vsodboost.models import load_imagenet_weights

    load_imagenet_weights(net.encoder, "vgg16", tmp_path / "vgg16-397923af.pth")
    assert torch.equal(net.encoder.state_dict()["features_28.weight"], fake["features.28.weight"])
    assert net.mean.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406])
    del fake["features.28.bias"]
    torch.save(fake, tmp_path / "broken.pth")
    with pytest.raises(WeightsError, match="features_28.bias"):
        load_imagenet_weights(net.encoder, "vgg16", tmp_path / "broken.pth")
