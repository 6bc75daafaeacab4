"""The wire: MQTT bytes in, typed records (or dead letters with a reason) out."""
