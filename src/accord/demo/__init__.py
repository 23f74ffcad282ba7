"""The main job, `accord demo`: a scripted voice-agent conversation on the simulator."""
