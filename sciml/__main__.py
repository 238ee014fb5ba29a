"""``python -m sciml`` (used by ``torchrun --nproc_per_node=N -m sciml train spec.yaml``)."""

from sciml.cli import main

raise SystemExit(main())
