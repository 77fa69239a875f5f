"""ROS4HRI (REP-155) output, ROS-free: the 18-point skeleton, face landmarks, regions of interest
and body ids with their lifetimes. ``openpose_ros.ros.hri_bridge`` turns them into messages."""
