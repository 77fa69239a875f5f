"""The pose node over real rclpy and DDS, with a tiny stand-in estimator.

The stand-in (``FakeEstimator``) is deterministic in the image's pixels and records every
batch it gets, so these tests can check batching, newest-only dropping, bad input, lifecycle
and parameters in a few seconds; ``test_ros_pose_node_e2e.py`` runs the real lightweight model.
Images are tiny (64x48) to keep DDS and CPU cost low.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import ParameterType
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from torch import nn

from openpose_ros.decode.estimator import BodyEstimator, EstimatorConfig
from openpose_ros.layouts import COCO_18
from openpose_ros.msg import Pose2DArray
from openpose_ros.people import People
from openpose_ros.pipeline import PosePipeline
from openpose_ros.ros.convert import msg_to_people
from openpose_ros.ros.images import array_to_compressed_image, array_to_image
from openpose_ros.ros.pose_config import PARAMETER_NAMES, PARAMETERS
from openpose_ros.ros.pose_node import PoseNode
from ros_utils import spin_until, wait_for_subscribers


class FakeEstimator:
    """One COCO_18 person per image whose joints depend on the pixels; records batch sizes."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[int] = []
        self.delay = delay

    def __call__(self, images):
        self.batches.append(len(images))
        time.sleep(self.delay)
        out = []
        for image in images:
            h, w = image.shape[:2]
            body = np.zeros((1, COCO_18.num_parts, 3), np.float32)
            body[0, :, 0] = np.linspace(0.5, w - 0.5, COCO_18.num_parts)
            body[0, :, 1] = image.reshape(-1, 3).mean(axis=0)[0] * h / 255.0
            body[0, :, 2] = 0.5
            out.append(People(COCO_18, (w, h), body, [float(image[0, 0, 2])]))
        return out


class TinyBodyNet(nn.Module):
    """A network module with the attributes ``BodyEstimator`` needs: one fixed random strided
    conv giving COCO_18's 57 channels at stride 8."""

    layout, stride, input_multiple, model_name = COCO_18, 8, 8, "TINY_COCO_18"

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, COCO_18.num_channels, 8, stride=8)

    def forward(self, x):
        return torch.sigmoid(self.conv(x))


class RecordingEstimator(BodyEstimator):
    """The real estimator, remembering the forward-pass sizes of every call."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.batches: list[list[int]] = []

    def __call__(self, images):
        people = super().__call__(images)
        self.batches.append(list(self.last_batch_sizes))
        return people


class FakeFactory:
    """``pipeline_factory`` that counts loads and releases."""

    def __init__(self, delay: float = 0.0, estimator=None) -> None:
        self.estimator = estimator or FakeEstimator(delay)
        self.loads = self.releases = 0
        self.live: list[PosePipeline] = []

    def __call__(self, config):
        self.loads += 1
        factory = self

        class Counted(PosePipeline):
            def release(self):
                factory.releases += 1
                super().release()

            def render(self, image, people):
                return image.copy()

        pipeline = Counted(self.estimator, config=config)
        self.live.append(pipeline)
        return pipeline


@pytest.fixture
def graph(ros_context):
    """(executor, helper node, make_pose_node(**params) -> (node, factory))."""
    executor = SingleThreadedExecutor(context=ros_context)
    helper = Node("pose_test_helper", context=ros_context)
    executor.add_node(helper)
    made = []

    def make(delay: float = 0.0, estimator=None, **params):
        factory = FakeFactory(delay, estimator)
        node = PoseNode(context=ros_context, pipeline_factory=factory,
                        parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        executor.add_node(node)
        made.append(node)
        return node, factory

    yield executor, helper, make
    for node in made:
        node.stop()
        node.destroy_node()
    executor.shutdown()
    helper.destroy_node()


def image_msg(value: int, frame_id: str, size=(64, 48), stamp_ns: int = 1) -> Image:
    return raw_msg(np.full((size[1], size[0], 3), value, np.uint8), frame_id, stamp_ns)


def raw_msg(pixels: np.ndarray, frame_id: str, stamp_ns: int = 1) -> Image:
    msg = array_to_image(pixels, "bgr8")
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg


def collect(helper, topic, msg_type=Pose2DArray):
    got = []
    helper.create_subscription(msg_type, topic, got.append, QoSProfile(depth=50))
    return got


def image_pub(helper, topic, msg_type=Image, reliable=True):
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE if reliable
                     else ReliabilityPolicy.BEST_EFFORT)
    return helper.create_publisher(msg_type, topic, qos)


def diag_values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def test_parameters_are_declared_from_the_table_with_descriptors(graph):
    executor, helper, make = graph
    node, factory = make(autostart=False)
    assert node.lifecycle_state == "unconfigured" and factory.loads == 0
    names = set(node._parameters)
    assert set(PARAMETER_NAMES) <= names
    desc = node.describe_parameter("nms_threshold")
    assert desc.type == ParameterType.PARAMETER_DOUBLE and desc.floating_point_range
    assert node.describe_parameter("image_topics").type == ParameterType.PARAMETER_STRING_ARRAY
    assert node.describe_parameter("scale_number").integer_range[0].to_value == 8
    assert all(node.describe_parameter(p.name).description for p in PARAMETERS)
    # Checked beyond the descriptors: formats and choices.
    bad = [("net_resolution", "368"), ("model", "RESNET"), ("hand_net_resolution", 100),
           ("nms_threshold", 1.5), ("number_people_max", 0), ("device", "tpu")]
    for name, value in bad:
        assert not node.set_parameters([Parameter(name, value=value)])[0].successful, name
    assert node.set_parameters([Parameter("net_resolution", value="656x368")])[0].successful
    # Two cameras may not publish to one topic.
    result = node.set_parameters([Parameter("image_topics", value=["/a/image_raw",
                                                                    "/a/image_rect"])])
    assert not result.pop().successful


def test_thresholds_change_at_run_time_and_structure_does_not(graph):
    executor, helper, make = graph
    estimator = BodyEstimator(TinyBodyNet())
    node, factory = make(estimator=estimator, image_topics=["/rt/image_raw"])
    assert node.lifecycle_state == "active"
    pipeline = node.pipeline
    assert node.set_parameters([Parameter("render_threshold", value=0.3)])[0].successful
    assert pipeline.config.render_threshold == 0.3 and node.pipeline is pipeline
    # Decoding thresholds reach the live estimator; -1 goes back to the model's default.
    assert node.set_parameters([Parameter("nms_threshold", value=0.5),
                                Parameter("number_people_max", value=2)])[0].successful
    assert estimator.config.decode.nms_threshold == 0.5
    assert estimator.config.decode.number_people_max == 2
    assert node.set_parameters([Parameter("nms_threshold", value=-1.0)])[0].successful
    assert estimator.config.decode.nms_threshold == 0.05  # COCO's default (spec 3.8)
    assert node.set_parameters([Parameter("max_image_pixels", value=1000)])[0].successful
    assert node.settings.max_image_pixels == 1000
    refused = node.set_parameters([Parameter("model", value="COCO_18")])[0]
    assert not refused.successful and "unconfigured" in refused.reason
    assert node.get_parameter("model").value == "BODY_25" and factory.loads == 1


def test_cameras_share_one_forward_pass_and_results_go_to_their_own_topics(graph):
    """Two and then four cameras through the real ``BodyEstimator`` (tiny network, net input
    64x48): frames waiting together go through the network in one forward pass."""
    executor, helper, make = graph
    estimator = RecordingEstimator(TinyBodyNet(), EstimatorConfig(net_resolution=(-1, 48)))
    cams = [f"/batch{i}" for i in range(4)]
    node, factory = make(estimator=estimator, image_topics=[f"{c}/image_raw" for c in cams],
                         batch_window=0.5)
    got = {c: collect(helper, f"{c}/poses") for c in cams}
    pubs = {c: image_pub(helper, f"{c}/image_raw") for c in cams}
    for c in cams:
        wait_for_subscribers(executor, pubs[c])
        spin_until(executor, lambda c=c: node.cameras[cams.index(c)].poses_pub
                   .get_subscription_count() > 0)
    rng = np.random.default_rng(1)
    pixels = [rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(6)]
    # Two cameras: the other two have sent nothing, yet are in their start-up grace, so the
    # node waits the window for them; the two present frames still form one batch.
    for i, c in enumerate(cams[:2]):
        pubs[c].publish(raw_msg(pixels[i], f"frame_{c}", stamp_ns=100 + i))
    assert spin_until(executor, lambda: all(got[c] for c in cams[:2]))
    for i, c in enumerate(cams):
        pubs[c].publish(raw_msg(pixels[2 + i], f"frame_{c}", stamp_ns=200 + i))
    assert spin_until(executor, lambda: all(len(got[c]) == (2 if cams.index(c) < 2 else 1)
                                            for c in cams))
    assert estimator.batches == [[2], [4]]  # one call, one forward pass, per batch
    assert node.estimator_stats.batch_sizes == [2, 4]
    expected = estimator(pixels[2:])  # the same four frames, batched the same way
    for i, c in enumerate(cams):
        last = got[c][-1]
        assert last.header.frame_id == f"frame_{c}" and last.header.stamp.nanosec == 200 + i
        people = msg_to_people(last)
        assert people.image_size == (64, 48)
        np.testing.assert_array_equal(people.body, expected[i].body)
        np.testing.assert_array_equal(people.scores, expected[i].scores)


def test_slow_network_keeps_only_the_newest_frame(graph):
    executor, helper, make = graph
    node, factory = make(delay=0.4, image_topics=["/slow/image_raw"], batch_window=0.0)
    got = collect(helper, "/slow/poses")
    pub = image_pub(helper, "/slow/image_raw")
    wait_for_subscribers(executor, pub)
    spin_until(executor, lambda: node.cameras[0].poses_pub.get_subscription_count() > 0)
    for k in range(8):
        pub.publish(image_msg(k, "slow", stamp_ns=1000 + k))
        spin_until(executor, lambda: False, timeout=0.05)
    assert spin_until(executor, lambda: got and got[-1].header.stamp.nanosec == 1007, 5.0)
    stats = node.cameras[0].stats
    assert stats.received == 8 and stats.drops["superseded"] >= 4
    assert stats.published + stats.drops["superseded"] == 8
    assert len(got) == stats.published < 8


def test_bad_input_is_dropped_counted_and_other_cameras_go_on(graph):
    """Wrong encoding, zero size, a 10000x10000 image (raw: declared size; compressed: a real
    PNG that decodes to 10000x10000), a resolution change and a camera that stops."""
    executor, helper, make = graph
    node, factory = make(image_topics=["/good/image_raw", "/bad/image_raw",
                                       "/zip/image_raw/compressed"],
                         max_image_pixels=4_000_000, image_timeout=0.6, batch_window=0.0)
    diags = collect(helper, "/diagnostics", DiagnosticArray)
    got = {c: collect(helper, f"/{c}/poses") for c in ("good", "bad", "zip")}
    pubs = {"good": image_pub(helper, "/good/image_raw"), "bad": image_pub(helper, "/bad/image_raw"),
            "zip": image_pub(helper, "/zip/image_raw/compressed", CompressedImage)}
    for pub in pubs.values():
        wait_for_subscribers(executor, pub)
    spin_until(executor, lambda: all(c.poses_pub.get_subscription_count() for c in node.cameras))

    wrong = image_msg(1, "bad")
    wrong.encoding = "yuv420"  # no such ROS encoding
    empty = Image(encoding="bgr8", width=0, height=0, step=0)
    huge = Image(encoding="mono8", width=10_000, height=10_000, step=10_000)  # declared size
    bomb = array_to_compressed_image(np.zeros((10_000, 10_000), np.uint8), "png")
    sent = 0
    for bad in (wrong, empty, huge):
        pubs["bad"].publish(bad)
        pubs["good"].publish(image_msg(7, "good", stamp_ns=500 + sent))
        sent += 1
        assert spin_until(executor, lambda: len(got["good"]) == sent)
    pubs["zip"].publish(bomb)
    # A resolution change mid-stream on the bad camera, then a good frame there too.
    pubs["bad"].publish(image_msg(3, "bad", size=(32, 24)))
    assert spin_until(executor, lambda: got["bad"])
    assert (got["bad"][0].image_width, got["bad"][0].image_height) == (32, 24)
    pubs["bad"].publish(image_msg(3, "bad", size=(80, 60)))
    assert spin_until(executor, lambda: len(got["bad"]) == 2)
    assert (got["bad"][1].image_width, got["bad"][1].image_height) == (80, 60)
    assert spin_until(executor, lambda: node.cameras[2].stats.drops["too_large"] == 1, 10.0)

    bad_stats = node.cameras[1].stats
    assert bad_stats.drops["bad_image"] == 2 and bad_stats.drops["too_large"] == 1
    assert "yuv420" in bad_stats.last_error or "too_large" in bad_stats.last_error
    assert not got["zip"] and node.lifecycle_state == "active"
    # The good camera stops: diagnostics turn it to WARN with "no image", the node keeps going.
    diags.clear()

    def warned():
        for array in diags:
            status = {s.name.split("camera ")[-1]: s for s in array.status}
            if "/good/image_raw" in status and status["/good/image_raw"].level == \
                    DiagnosticStatus.WARN and "no image" in status["/good/image_raw"].message:
                return status
        return None

    assert spin_until(executor, lambda: warned() is not None, 4.0)
    status = warned()
    bad_values = diag_values(status["/bad/image_raw"])
    assert bad_values["dropped_bad_image"] == "2" and bad_values["dropped_too_large"] == "1"
    assert diag_values(status["/zip/image_raw/compressed"])["dropped_too_large"] == "1"
    node_status = next(s for s in diags[-1].status if s.name.endswith("pose estimation"))
    assert diag_values(node_status)["model"] == "BODY_25"
    assert diag_values(node_status)["device"] == "cpu"
    assert node.lifecycle_state == "active"
    pubs["bad"].publish(image_msg(9, "bad"))
    assert spin_until(executor, lambda: len(got["bad"]) == 3)


def test_deactivate_releases_the_model_and_activate_reloads_it(graph):
    executor, helper, make = graph
    node, factory = make(image_topics=["/life/image_raw"])
    got = collect(helper, "/life/poses")
    pub = image_pub(helper, "/life/image_raw")
    wait_for_subscribers(executor, pub)
    assert node.trigger_deactivate().name == "SUCCESS"
    assert node.lifecycle_state == "inactive" and node.pipeline is None
    assert factory.releases == 1 and factory.live[0].estimator is None
    assert spin_until(executor, lambda: pub.get_subscription_count() == 0)
    assert node.trigger_activate().name == "SUCCESS" and factory.loads == 2
    wait_for_subscribers(executor, pub)
    spin_until(executor, lambda: node.cameras[0].poses_pub.get_subscription_count() > 0)
    pub.publish(image_msg(5, "life"))
    assert spin_until(executor, lambda: got)
    assert node.trigger_deactivate().name == "SUCCESS" and node.trigger_cleanup().name == "SUCCESS"
    assert node.lifecycle_state == "unconfigured" and factory.releases == 2
    # Unconfigured: structural parameters may change now.
    assert node.set_parameters([Parameter("model", value="COCO_18")])[0].successful


def test_a_model_that_cannot_load_fails_configure_with_its_message(ros_context):
    def missing(config):
        raise FileNotFoundError(f"{config.model}: not found; set OPENPOSE_ROS_MODELS")

    node = PoseNode(context=ros_context, pipeline_factory=missing)
    try:
        assert node.lifecycle_state == "unconfigured"
        assert "OPENPOSE_ROS_MODELS" in node.problem
    finally:
        node.destroy_node()


def test_a_precision_the_device_cannot_run_fails_configure_naming_what_it_can(ros_context):
    """The real loader: INT8 of BODY_25 is refused before any weights are looked for."""
    node = PoseNode(context=ros_context, parameter_overrides=[
        Parameter("model", value="BODY_25"), Parameter("device", value="cpu"),
        Parameter("engine", value="torch"), Parameter("precision", value="int8")])
    try:
        assert node.lifecycle_state == "unconfigured"
        assert "precision int8 cannot run BODY_25 with engine torch" in node.problem
        assert "it can run: fp32" in node.problem
        assert not node.set_parameters([Parameter("engine", value="tensorrt")])[0].successful
        assert not node.set_parameters([Parameter("precision", value="fp64")])[0].successful
        assert node.set_parameters([Parameter("precision", value="fp32")])[0].successful
    finally:
        node.destroy_node()


def test_annotated_image_is_rendered_only_while_subscribed(graph):
    executor, helper, make = graph
    node, factory = make(image_topics=["/ann/image_raw"])
    rendered = []
    pipeline = node.pipeline
    original = pipeline.render
    pipeline.render = lambda image, people: rendered.append(1) or original(image, people)
    got = collect(helper, "/ann/poses")
    pub = image_pub(helper, "/ann/image_raw")
    wait_for_subscribers(executor, pub)
    spin_until(executor, lambda: node.cameras[0].poses_pub.get_subscription_count() > 0)
    pub.publish(image_msg(1, "ann", stamp_ns=1))
    assert spin_until(executor, lambda: got) and not rendered
    images = collect(helper, "/ann/poses/image", Image)
    spin_until(executor, lambda: node.cameras[0].annotated_pub.get_subscription_count() > 0)
    pub.publish(image_msg(2, "ann", stamp_ns=2))
    assert spin_until(executor, lambda: images) and rendered == [1]
    assert images[0].header.stamp.nanosec == 2 and images[0].encoding == "bgr8"


def test_incompatible_qos_is_reported(graph):
    executor, helper, make = graph
    node, factory = make(image_topics=["/qos/image_raw"], reliability="reliable")
    image_pub(helper, "/qos/image_raw", reliable=False)  # best effort cannot feed reliable
    assert spin_until(executor, lambda: node.cameras[0].stats.incompatible_qos > 0, 5.0)
    assert node.cameras[0].stats.incompatible_policy == "RELIABILITY"


def test_worker_survives_a_failing_network(graph):
    executor, helper, make = graph
    node, factory = make(image_topics=["/fail/image_raw"], batch_window=0.0)
    calls = threading.Event()

    def broken(images):
        calls.set()
        raise RuntimeError("CUDA error: out of memory")

    node.pipeline.estimator = broken
    got = collect(helper, "/fail/poses")
    pub = image_pub(helper, "/fail/image_raw")
    wait_for_subscribers(executor, pub)
    pub.publish(image_msg(1, "fail"))
    assert spin_until(executor, lambda: node.cameras[0].stats.drops["error"] == 1)
    assert node.estimator_stats.errors == 1 and "out of memory" in node.estimator_stats.last_error
    node.pipeline.estimator = factory.estimator
    spin_until(executor, lambda: node.cameras[0].poses_pub.get_subscription_count() > 0)
    pub.publish(image_msg(2, "fail"))
    assert spin_until(executor, lambda: got)


def test_bayer_and_yuyv_cameras_are_decoded_to_their_colours(graph):
    """A FLIR-style ``bayer_rggb8`` and a webcam's ``yuv422_yuy2`` frame of one colour: the
    stand-in estimator's output shows the decoded pixels (score: red of pixel 0,0; joint y:
    mean blue), so a wrong pattern or byte order would show."""
    executor, helper, make = graph
    node, factory = make(image_topics=["/flir/image_raw", "/usb/image_raw"], batch_window=0.0)
    got = {c: collect(helper, f"/{c}/poses") for c in ("flir", "usb")}
    pubs = {c: image_pub(helper, f"/{c}/image_raw") for c in ("flir", "usb")}
    for pub in pubs.values():
        wait_for_subscribers(executor, pub)
    spin_until(executor, lambda: all(c.poses_pub.get_subscription_count() for c in node.cameras))
    w, h = 64, 48
    red, green, blue = 200, 90, 60
    bayer = np.empty((h, w), np.uint8)  # R G / G B cells sampled from the uniform colour
    bayer[0::2, 0::2], bayer[0::2, 1::2], bayer[1::2, 0::2], bayer[1::2, 1::2] = \
        red, green, green, blue
    flir = Image(encoding="bayer_rggb8", height=h, width=w, step=w, data=bayer.tobytes())
    flir.header.frame_id = "flir"
    # BT.601 video range (Y 16-235, Cb/Cr 16-240), bytes Y U Y V.
    e = np.array([red, green, blue]) / 255.0
    luma = float(e @ [0.299, 0.587, 0.114])
    y, cb, cr = np.round([16 + 219 * luma, 128 + 224 * (e[2] - luma) / 1.772,
                          128 + 224 * (e[0] - luma) / 1.402])
    yuyv = np.tile(np.array([y, cb, y, cr], np.uint8), (h, w // 2))
    usb = Image(encoding="yuv422_yuy2", height=h, width=w, step=2 * w, data=yuyv.tobytes())
    usb.header.frame_id = "usb"
    pubs["flir"].publish(flir)
    pubs["usb"].publish(usb)
    assert spin_until(executor, lambda: got["flir"] and got["usb"])
    for camera, tolerance in (("flir", 0), ("usb", 3)):
        people = msg_to_people(got[camera][0])
        assert people.image_size == (w, h)
        assert abs(people.scores[0] - red) <= tolerance, camera
        assert abs(people.body[0, 0, 1] - blue * h / 255.0) <= tolerance * h / 255.0, camera
    assert all(not c.stats.drops.get("bad_image") for c in node.cameras)


class TwoWalkers:
    """Two COCO_18 people per image, walking towards each other by one pixel per grey level
    of the image; the detector lists them in an order that flips with every grey level."""

    def __call__(self, images):
        out = []
        for image in images:
            h, w = image.shape[:2]
            step = float(image[0, 0, 0])
            body = np.zeros((2, COCO_18.num_parts, 3), np.float32)
            body[:, :, 1] = np.linspace(0.2 * h, 0.8 * h, COCO_18.num_parts)
            body[0, :, 0] = np.linspace(0.05 * w, 0.25 * w, COCO_18.num_parts) + step
            body[1, :, 0] = np.linspace(0.7 * w, 0.9 * w, COCO_18.num_parts) - step
            body[:, :, 2] = 0.9
            order = [1, 0] if int(step) % 2 else [0, 1]
            out.append(People(COCO_18, (w, h), body[order], [1.0, 1.0]))
        return out


def _ids_left_to_right(msg: Pose2DArray) -> list[int]:
    people = msg_to_people(msg)
    return [int(i) for i in people.track_ids[np.argsort(people.body[:, 0, 0])]]


def test_track_ids_are_filled_stable_and_restart_on_a_new_size_or_a_loop(graph):
    executor, helper, make = graph
    node, _ = make(estimator=TwoWalkers(), image_topics=["/trk/image_raw"], batch_window=0.0,
                   tracking_min_hits=2)
    got = collect(helper, "/trk/poses")
    pub = image_pub(helper, "/trk/image_raw")
    wait_for_subscribers(executor, pub)
    spin_until(executor, lambda: node.cameras[0].poses_pub.get_subscription_count() > 0)

    def send(step: int, stamp_ns: int, size=(64, 48)) -> list[int]:
        count = len(got)
        pub.publish(image_msg(step, "trk", size=size, stamp_ns=stamp_ns))
        assert spin_until(executor, lambda: len(got) > count)
        return _ids_left_to_right(got[-1])

    ids = [send(k, 10**9 + k * 33_000_000) for k in range(6)]
    assert ids[0] == [-1, -1]  # tentative until the second hit
    assert all(i == ids[1] for i in ids[1:]) and ids[1][0] != ids[1][1] and min(ids[1]) >= 0
    # A new image size: the tracks restart, and the ids are new ones.
    bigger = [send(6 + k, 10**9 + (6 + k) * 33_000_000, size=(96, 72)) for k in range(2)]
    assert bigger[0] == [-1, -1] and not set(bigger[1]) & set(ids[1]) and min(bigger[1]) >= 0
    assert not node.cameras[0].loop_warned
    # Stamps back to the start (a bag loop): restarted again, warned once.
    looped = [send(k, 10**9 + k * 33_000_000, size=(96, 72)) for k in range(2)]
    assert looped[0] == [-1, -1] and not set(looped[1]) & (set(ids[1]) | set(bigger[1]))
    assert node.cameras[0].loop_warned
    # Off at run time: every id is -1 again.
    assert node.set_parameters([Parameter("tracking", value=False)])[0].successful
    assert send(3, 2 * 10**9, size=(96, 72)) == [-1, -1]


def test_tracking_parameters_cover_the_tracker_config():
    from dataclasses import fields

    from openpose_ros.ros.pose_config import build_configs
    from openpose_ros.tracking2d import TrackerConfig

    values = {p.name: p.default for p in PARAMETERS}
    assert {f"tracking_{f.name}" for f in fields(TrackerConfig)} <= set(values)
    assert build_configs(values)[1].tracking == TrackerConfig()  # same defaults
    values.update(tracking_min_hits=5, tracking_max_gap_s=0.25)
    assert build_configs(values)[1].tracking == TrackerConfig(min_hits=5, max_gap_s=0.25)
    assert build_configs({**values, "tracking": False})[1].tracking is None
