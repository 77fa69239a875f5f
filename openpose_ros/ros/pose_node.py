"""The pose node: camera images in, ``Pose2DArray`` out, one model for many cameras.

A lifecycle node (``autostart`` configures and activates it at once, so plain ``ros2 run``
works): *configure* reads the parameters and loads the networks, *activate* subscribes and
starts the inference worker, *deactivate* unsubscribes and releases the networks (and cached
GPU memory), *cleanup* removes the publishers.

Threading: subscription callbacks only put each message in its camera's slot
(:class:`~openpose_ros.ros.frame_slots.FrameSlots`) and return; one worker thread takes the
newest frame of every camera, runs them through the network as one batch and publishes. So
the executor keeps receiving images (and serving parameters, lifecycle and diagnostics) while
the network runs, and a slow network drops stale frames instead of queueing them. A timer
doing inference instead would hold the executor for the whole forward pass.

Topics per camera (``image_topics`` entry ``<ns>/<image>[/compressed]``): ``<ns>/poses``
(``Pose2DArray``, stamped with the image's header) and ``<ns>/poses/image`` (annotated
``bgr8``, rendered only while subscribed); ``/diagnostics`` for the node.

Tracking (``tracking``, on by default): each camera has its own
:class:`~openpose_ros.tracking2d.Tracker2D`, fed with the image stamps, which fills
``Person2D.track_id``. Its tracks restart when the camera's image size changes, when its stamps
jump backwards (a bag played in a loop: warned once per camera), when a tracking parameter
changes, and on cleanup.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CompressedImage, Image

from openpose_ros.image_codec import ImageFormatError
from openpose_ros.msg import Pose2DArray
from openpose_ros.people import People
from openpose_ros.pipeline import PipelineConfig, PosePipeline
from openpose_ros.ros.convert import people_to_msg
from openpose_ros.ros.diagnostics import (CameraStats, EstimatorStats, camera_status,
                                          diagnostic_array, estimator_status)
from openpose_ros.ros.frame_slots import Frame, FrameSlots
from openpose_ros.ros.images import array_to_image, compressed_to_bgr8, image_to_bgr8
from openpose_ros.ros.pose_config import (PARAMETER_NAMES, PARAMETERS, CameraTopics,
                                          NodeSettings, build_configs, check_value, descriptor)
from openpose_ros.ros.qos_watch import image_qos, incompatible_qos_callbacks, result_qos
from openpose_ros.ros.session import ros_session
from openpose_ros.tracking2d import Tracker2D, TrackerConfig

__all__ = ["PoseNode", "main"]

_SUCCESS, _FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
_RUNTIME = frozenset(p.name for p in PARAMETERS if p.runtime)


class _Dropped(Exception):
    """A frame that cannot go through the network; ``reason`` is a diagnostics drop reason."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


class _Camera:
    """One camera's topics, publishers, subscription and counters."""

    def __init__(self, topics: CameraTopics, poses_pub, annotated_pub) -> None:
        self.topics = topics
        self.stats = CameraStats(topics.image_topic)
        self.poses_pub = poses_pub
        self.annotated_pub = annotated_pub
        self.subscription = None
        self.tracker: Tracker2D | None = None
        self.loop_warned = False

    def restart_tracking(self, config: TrackerConfig | None) -> None:
        """A fresh tracker (no tracks, ids from 0) with ``config``; None turns tracking off."""
        self.tracker = None if config is None else Tracker2D(config)


class PoseNode(LifecycleNode):
    """Pose estimation for one or more cameras (parameters: ``pose_config.PARAMETERS``).

    Args:
        node_name: ROS node name.
        pipeline_factory: builds the core from its config (tests pass a small fake network);
            it may raise, e.g. ``ModelNotFoundError``, which fails the transition with the
            error's message logged.
        **kwargs: passed to ``rclpy.node.Node`` (context, namespace, parameter_overrides...).
    """

    def __init__(self, node_name: str = "pose_node", *,
                 pipeline_factory: Callable[[PipelineConfig], PosePipeline] = PosePipeline.load,
                 **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, descriptor(spec))
        self._pipeline_factory = pipeline_factory
        self.pipeline: PosePipeline | None = None
        self.pipeline_config: PipelineConfig | None = None
        self.settings: NodeSettings | None = None
        self.cameras: list[_Camera] = []
        self.estimator_stats: EstimatorStats | None = None
        self.problem = ""  # why the last transition failed, for diagnostics
        self._slots: FrameSlots | None = None
        self._worker: threading.Thread | None = None
        self._activated_at = time.monotonic()
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(
            self.get_parameter("diagnostics_period").value, self._publish_diagnostics)
        if self.get_parameter("autostart").value:
            if self.trigger_configure() == _SUCCESS:
                self.trigger_activate()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def lifecycle_state(self) -> str:
        """``unconfigured``, ``inactive``, ``active`` or ``finalized``."""
        return self._state_machine.current_state[1]

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.pipeline_config, self.settings = build_configs(self._parameter_values())
        except ValueError as err:
            return self._fail(f"invalid parameters: {err}")
        if not self._load_pipeline():
            return _FAILURE
        self.estimator_stats = EstimatorStats()
        self.cameras = [
            _Camera(cam, self.create_publisher(Pose2DArray, cam.poses_topic, result_qos()),
                    self.create_publisher(Image, cam.annotated_topic, result_qos(2))
                    if self.settings.publish_annotated else None)
            for cam in self.settings.cameras]
        for cam in self.cameras:
            cam.restart_tracking(self.settings.tracking)
        self.get_logger().info(
            f"configured {self._describe_pipeline()} for "
            + ", ".join(f"{c.topics.image_topic} -> {c.topics.poses_topic}" for c in self.cameras))
        return _SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.pipeline is None and not self._load_pipeline():  # released by deactivate
            return _FAILURE
        settings = self.settings
        self._slots = FrameSlots(len(self.cameras))
        self._activated_at = time.monotonic()
        for index, cam in enumerate(self.cameras):
            cam.stats.silent_warned = False
            cam.subscription = self.create_subscription(
                CompressedImage if cam.topics.compressed else Image, cam.topics.image_topic,
                lambda msg, i=index: self._on_image(i, msg),
                image_qos(settings.reliability, settings.queue_depth),
                event_callbacks=incompatible_qos_callbacks(
                    self, cam.topics.image_topic, on_event=cam.stats.qos_incompatible))
        self._worker = threading.Thread(target=self._work, args=(self._slots,),
                                        name="pose_inference", daemon=True)
        self._worker.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop()  # networks and cached GPU memory go back; activate reloads them
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        for cam in self.cameras:
            self.destroy_publisher(cam.poses_pub)
            if cam.annotated_pub is not None:
                self.destroy_publisher(cam.annotated_pub)
        self.cameras = []
        self.stop()
        self.estimator_stats = None
        return _SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop()
        return _SUCCESS

    def stop(self) -> None:
        """Unsubscribe, finish the batch in flight and release the networks, in any state
        (for shutdown paths that do not go through a lifecycle transition)."""
        self._stop_worker()
        if self.pipeline is not None:
            self.pipeline.release()
            self.pipeline = None

    def _fail(self, problem: str) -> TransitionCallbackReturn:
        self.problem = problem
        self.get_logger().error(problem)
        return _FAILURE

    def _describe_pipeline(self) -> str:
        describe = getattr(self.pipeline, "describe", None)
        return describe() if describe else f"{self.pipeline.model_name} on {self.pipeline.device}"

    def _load_pipeline(self) -> bool:
        try:
            self.pipeline = self._pipeline_factory(self.pipeline_config)
        except Exception as err:  # noqa: BLE001 - every load failure fails the transition
            self._fail(f"cannot load {self.pipeline_config.model}: {err}")
            return False
        self.problem = ""
        return True

    def _stop_worker(self) -> None:
        for cam in self.cameras:
            if cam.subscription is not None:
                self.destroy_subscription(cam.subscription)
                cam.subscription = None
        if self._slots is not None:
            self._slots.close()
            for frame in self._slots.drain():
                self.cameras[frame.camera].stats.dropped("inactive")
        if self._worker is not None:
            self._worker.join()  # finishes the batch in flight
        self._worker = self._slots = None

    # -- parameters ------------------------------------------------------------------------

    def _parameter_values(self) -> dict:
        return {name: self.get_parameter(name).value for name in PARAMETER_NAMES}

    def _check_parameters(self, params) -> SetParametersResult:
        values = self._parameter_values()
        for param in params:
            if param.name not in values:
                continue
            problem = check_value(param.name, param.value)
            if problem is None and param.name not in _RUNTIME and \
                    self.lifecycle_state != "unconfigured":
                problem = (f"{param.name} can change only while unconfigured "
                           "(deactivate, cleanup, set it, configure)")
            if problem:
                return SetParametersResult(successful=False, reason=problem)
            values[param.name] = param.value
        try:
            build_configs(values)
        except ValueError as err:
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params) -> None:
        if self.settings is None or not any(p.name in _RUNTIME for p in params):
            return
        config, settings = build_configs(self._parameter_values())
        # Topics and networks cannot have changed (checked above): keep the live objects.
        if settings.tracking != self.settings.tracking:
            for cam in self.cameras:
                cam.restart_tracking(settings.tracking)
        self.settings = settings
        self.pipeline_config = config
        if self.pipeline is not None:
            self.pipeline.update(config)

    # -- images in, people out -------------------------------------------------------------

    def _on_image(self, camera: int, msg) -> None:
        slots = self._slots
        if slots is None:
            return
        try:
            self.cameras[camera].stats.arrived(superseded=slots.put(camera, msg))
        except Exception as err:  # noqa: BLE001 - a callback must never take the node down
            self.get_logger().error(f"image callback: {err}", throttle_duration_sec=5.0)

    def _work(self, slots: FrameSlots) -> None:
        while True:
            settings = self.settings
            frames = slots.take_batch(window=settings.batch_window,
                                      live_timeout=settings.image_timeout)
            if not frames:
                if slots.closed:
                    return
                continue
            try:
                self._process(frames)
            except Exception as err:  # noqa: BLE001 - keep the worker alive whatever happens
                for frame in frames:
                    self.cameras[frame.camera].stats.dropped("error", str(err))
                self.get_logger().error(f"inference worker: {err}", throttle_duration_sec=5.0)

    def _image_of(self, frame: Frame) -> np.ndarray:
        """BGR uint8 pixels of a frame; ``_Dropped`` when it must not reach the network."""
        msg, limit = frame.message, self.settings.max_image_pixels
        if not isinstance(msg, CompressedImage) and msg.width * msg.height > limit:
            # Checked on the declared size, before a single pixel is touched.
            raise _Dropped("too_large", f"{msg.width}x{msg.height} exceeds max_image_pixels "
                                        f"{limit}")
        try:
            image = compressed_to_bgr8(msg) if isinstance(msg, CompressedImage) \
                else image_to_bgr8(msg)
        except ImageFormatError as err:
            raise _Dropped("bad_image", str(err)) from None
        height, width = image.shape[:2]
        if width * height > limit:
            raise _Dropped("too_large", f"{width}x{height} exceeds max_image_pixels {limit}")
        if width < 2 or height < 2:
            raise _Dropped("bad_image", f"image {width}x{height} is smaller than 2x2")
        return image

    def _process(self, frames: list[Frame]) -> None:
        ready: list[tuple[Frame, np.ndarray]] = []
        for frame in frames:
            try:
                ready.append((frame, self._image_of(frame)))
            except _Dropped as drop:
                self.cameras[frame.camera].stats.dropped(drop.reason, str(drop))
                self.get_logger().warning(f"{self.cameras[frame.camera].topics.image_topic}: "
                                          f"dropped a frame: {drop}", throttle_duration_sec=5.0)
        if not ready:
            return
        pipeline, stats = self.pipeline, self.estimator_stats
        start = time.perf_counter()
        try:
            results = pipeline([image for _, image in ready])
        except Exception as err:  # noqa: BLE001
            stats.failed(str(err))
            if len(ready) == 1:
                raise
            # One bad frame must not cost the other cameras theirs: retry one by one.
            for frame, image in ready:
                try:
                    self._publish(pipeline, frame, image, pipeline([image])[0])
                except Exception as single:  # noqa: BLE001
                    self.cameras[frame.camera].stats.dropped("error", str(single))
            return
        stats.batch(len(ready), time.perf_counter() - start)
        for (frame, image), people in zip(ready, results):
            try:
                self._publish(pipeline, frame, image, people)
            except Exception as err:  # noqa: BLE001
                self.cameras[frame.camera].stats.dropped("error", str(err))

    def _publish(self, pipeline: PosePipeline, frame: Frame, image: np.ndarray,
                 people: People) -> None:
        cam, header = self.cameras[frame.camera], frame.message.header
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        people = self._track(cam, people, stamp_ns)
        if cam.annotated_pub is not None and cam.annotated_pub.get_subscription_count() > 0:
            drawn = pipeline.render(image, people)
            cam.annotated_pub.publish(array_to_image(drawn, "bgr8", header))
        cam.poses_pub.publish(people_to_msg(people, header))
        latency = (self.get_clock().now().nanoseconds - stamp_ns) / 1e9 if stamp_ns else None
        cam.stats.published_one(latency, people.image_size)

    def _track(self, cam: _Camera, people: People, stamp_ns: int) -> People:
        """``people`` with track ids from the camera's tracker (as they are when it is off)."""
        tracker = cam.tracker
        if tracker is None:
            return people
        # An unstamped camera (stamp 0) is tracked on the node's clock instead.
        stamp_s = (stamp_ns or self.get_clock().now().nanoseconds) / 1e9
        update = tracker.update(people, stamp_s)
        if update.reset == "stamp_backwards" and not cam.loop_warned:
            cam.loop_warned = True
            self.get_logger().warning(
                f"{cam.topics.image_topic}: image stamps jumped back (a bag played in a loop?); "
                "tracks restarted (warned once per camera)")
        elif update.reset == "image_size":
            self.get_logger().info(f"{cam.topics.image_topic}: image size is now "
                                   f"{people.image_size[0]}x{people.image_size[1]}; tracks "
                                   "restarted")
        return update.people

    # -- diagnostics -----------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        try:
            settings, config = self.settings, self.pipeline_config
            statuses = [estimator_status(
                self.get_name(), self.estimator_stats, state=self.lifecycle_state,
                model=config.model if config else self.get_parameter("model").value,
                device=self.pipeline.device if self.pipeline else "none",
                problem=self.problem)]
            active = self.lifecycle_state == "active"
            for cam in self.cameras:
                silence = cam.stats.silence(self._activated_at) if active else 0.0
                if active and silence > settings.image_timeout and not cam.stats.silent_warned:
                    cam.stats.silent_warned = True
                    self.get_logger().warning(
                        f"{cam.topics.image_topic}: no image for {silence:.1f} s (is the camera "
                        "running, the topic name right and the QoS compatible?)")
                statuses.append(camera_status(self.get_name(), cam.stats, silence=silence,
                                              image_timeout=settings.image_timeout))
            self._diagnostics_pub.publish(
                diagnostic_array(self.get_clock().now().to_msg(), statuses))
        except Exception as err:  # noqa: BLE001
            self.get_logger().error(f"diagnostics: {err}", throttle_duration_sec=10.0)


def main(args: list[str] | None = None) -> int:
    """``ros2 run openpose_ros pose_node``; exits 1 when autostart cannot load the model."""
    with ros_session(args):
        node = PoseNode()
        try:
            if node.get_parameter("autostart").value and node.lifecycle_state != "active":
                node.get_logger().fatal(f"not started: {node.problem}")
                return 1
            rclpy.spin(node)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            node.stop()
            node.destroy_node()
    return 0
