"""The instrument servers: OPC UA synthesis robot, ZMQ cycler and ZMQ XRD stage."""
