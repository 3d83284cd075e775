"""`portico push`: the server's Web Push (VAPID) key pair."""

import typer

from entrypoints.cli.tree import command_group

push_app = command_group("Web Push: make the server's VAPID keys.")


@push_app.command()
def keys() -> None:
    """Print a new VAPID key pair as PUSH_VAPID_PRIVATE_KEY and the public key for browsers.

    The private key is a secret: put it in the environment or a secret store, not in git.
    Changing it invalidates every browser subscription made with the old public key.
    """
    from adapters.webpush.sender import generate_vapid_keys

    private_key, public_key = generate_vapid_keys()
    typer.echo(f"PUSH_VAPID_PRIVATE_KEY={private_key}")
    typer.echo(f"# public key (applicationServerKey): {public_key}")
