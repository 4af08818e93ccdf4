"""The ``respondr`` command line. Every command commits once, or not at all."""

from __future__ import annotations

import json
import subprocess  # `respondr serve` starts its worker process  # nosec B404
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select, text

from respondr.domain import accounts, metrics, policies, report_tables
from respondr.domain import channels as channel_ops
from respondr.domain.errors import DomainError
from respondr.domain.presets import ensure_presets
from respondr.extensions import db
from respondr.models import ApiToken, ApprovalPolicy, Channel
from respondr.timeutil import utcnow


@contextmanager
def transaction() -> Iterator[None]:
    """Commit at the end, roll back and explain on a domain error."""
    try:
        yield
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        where = f" (--{error.field.replace('_', '-')})" if error.field else ""
        raise click.ClickException(error.message + where) from None
    except BaseException:
        db.session.rollback()
        raise


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the database schema to the latest migration."""
    from respondr.migrate import upgrade

    upgrade(current_app.config["SQLALCHEMY_DATABASE_URI"])
    with transaction():
        ensure_presets(db.session, now=utcnow())
    click.echo("Database is at the latest schema, with the shipped approval policies.")


@click.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.option("--email", required=True, help="Sign-in email address.")
@click.option("--name", required=True, help="Display name.")
@click.option("--roles", required=True, help="Comma-separated: agent,approver,manager,admin.")
@click.option("--trusted", is_flag=True, help="Mark the user as trusted for approval policies.")
@click.option("--password", required=True, help="Initial password (10 characters or more).")
@with_appcontext
def create_user(email: str, name: str, roles: str, trusted: bool, password: str) -> None:
    """Create a user who can sign in."""
    with transaction():
        user = accounts.create_user(
            db.session,
            email=email,
            name=name,
            password=password,
            roles=roles,
            trusted=trusted,
            actor=None,
            now=utcnow(),
        )
    click.echo(f"Created {user.email} ({', '.join(sorted(user.roles))}).")


@users.command("reset-password")
@click.option("--email", required=True, help="Whose password to reset.")
@click.option("--base-url", default=None, help="Where respondr is served (default HOST:PORT).")
@with_appcontext
def reset_password(email: str, base_url: str | None) -> None:
    """Print a one-time link (valid 24 hours) where the user sets a new password."""
    with transaction():
        user = accounts.get_user(db.session, email)
        token = accounts.issue_reset_link_token(db.session, user, actor=None, now=utcnow())
    settings = current_app.extensions["respondr.settings"]
    base = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    click.echo(f"One-time reset link for {user.email}, valid 24 hours:")
    click.echo(f"{base}/reset/{token}")


@click.group()
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default="", help="What the token is for.")
@with_appcontext
def create_token(email: str, name: str) -> None:
    """Print a new API token once, alone on the last line; only its hash is stored."""
    with transaction():
        user = accounts.get_user(db.session, email)
        token = accounts.create_api_token(db.session, user, name=name, actor=None, now=utcnow())
    click.echo(f"API token for {user.email} (shown once, store it now):")
    click.echo(token)


@tokens.command("revoke")
@click.option("--email", help="Revoke every token of this user.")
@click.option("--prefix", help="Revoke the token starting with this prefix.")
@with_appcontext
def revoke_token(email: str | None, prefix: str | None) -> None:
    """Revoke API tokens, by user or by the prefix shown when listing."""
    if not email and not prefix:
        raise click.UsageError("Give --email or --prefix.")
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
    with transaction():
        if email:
            query = query.where(ApiToken.user_id == accounts.get_user(db.session, email).id)
        if prefix:
            query = query.where(ApiToken.prefix == prefix[:10])
        found = db.session.scalars(query).all()
        for api_token in found:
            accounts.revoke_api_token(db.session, api_token, actor=None, now=utcnow())
    click.echo(f"Revoked {len(found)} token(s).")


@click.group()
def fans() -> None:
    """Fans' personal data."""


@fans.command("erase")
@click.option("--channel", "channel_ref", required=True, help="Channel name or id.")
@click.option("--handle", required=True, help="The fan's handle on that channel.")
@click.option("--yes", is_flag=True, help="Erase without asking first.")
@with_appcontext
def erase_fan(channel_ref: str, handle: str, yes: bool) -> None:
    """Erase a fan's handle, name, profile and message text (a data-protection request),
    keeping the anonymous timing reports count; recorded in the audit log."""
    from respondr.domain import erasure

    with transaction():
        fan = erasure.find_fan(db.session, channel_ref, handle)
        if not yes:
            click.confirm(
                f"Erase {fan.handle} on {fan.channel.name}: their name, profile and the text of "
                f"{erasure.messages_of(db.session, fan)} message(s)? This cannot be undone.",
                abort=True,
            )
        done = erasure.erase_fan(db.session, fan, actor=None, now=utcnow())
    click.echo(
        f"Erased fan {done.fan_id} on {done.channel}: the text of {done.messages} message(s), "
        f"{done.notes} note(s) and their name in {done.notifications} notification(s). "
        "Their timing stays in the reports."
    )


@click.group()
def channels() -> None:
    """Manage channels."""


@channels.command("create")
@click.option("--name", required=True, help="Channel name, unique.")
@click.option(
    "--kind", required=True, help="facebook_page, twitter, instagram, blog, forum, email or other."
)
@click.option("--sla-minutes", default=60, show_default=True, help="SLA target for a reply.")
@click.option("--json", "as_json", is_flag=True, help="Print {id, secret} as JSON for tools.")
@with_appcontext
def create_channel(name: str, kind: str, sla_minutes: int, as_json: bool) -> None:
    """Create a channel and print its id and inbound webhook secret."""
    with transaction():
        channel = channel_ops.create_channel(
            db.session, name=name, kind=kind, sla_minutes=sla_minutes, actor=None, now=utcnow()
        )
    if as_json:
        click.echo(json.dumps({"id": channel.id, "secret": channel.inbound_secret}))
    else:
        click.echo(f"Created channel {channel.name} (id {channel.id}).")
        click.echo(f"Inbound webhook secret: {channel.inbound_secret}")


@channels.command("set-policy")
@click.option("--channel", "channel_ref", required=True, help="Channel name or id.")
@click.option("--policy", "policy_ref", required=True, help="Policy display name or slug.")
@with_appcontext
def set_policy(channel_ref: str, policy_ref: str) -> None:
    """Put an approval policy in force on a channel (recorded in the audit log)."""
    with transaction():
        channel = channel_ops.find_channel(db.session, channel_ref)
        chosen = policies.find_policy(db.session, policy_ref)
        policies.set_channel_policy(db.session, channel, chosen, actor=None, now=utcnow())
    click.echo(f"{channel.name} now uses {chosen.name} (v{chosen.current_version.number}).")


@channels.command("set-connector")
@click.option("--channel", "channel_ref", required=True, help="Channel name or id.")
@click.option(
    "--connector",
    type=click.Choice(["webhook", "facebook", "manual"]),
    required=True,
    help="How replies are published.",
)
@click.option("--url", default=None, help="Webhook URL (or Graph API base URL for facebook).")
@click.option("--token", default=None, help="Webhook signing secret or Facebook page token.")
@click.option("--page-id", default=None, help="Facebook page id.")
@with_appcontext
def set_connector(
    channel_ref: str, connector: str, url: str | None, token: str | None, page_id: str | None
) -> None:
    """Choose a channel's publish connector; secrets are stored encrypted, never shown."""
    with transaction():
        channel = channel_ops.find_channel(db.session, channel_ref)
        generated = channel_ops.set_connector(
            db.session,
            channel,
            connector=connector,
            url=url,
            token=token,
            page_id=page_id,
            secret_key=current_app.config["SECRET_KEY"],
            actor=None,
            now=utcnow(),
        )
    click.echo(f"{channel.name} now publishes with the {connector} connector.")
    if generated:
        click.echo("Signing secret for the receiving side (shown once):")
        click.echo(generated)


@click.group("policies")
def policies_group() -> None:
    """Approval policies."""


@policies_group.command("list")
@with_appcontext
def list_policies() -> None:
    """List the approval policies with their current version and the channels using each."""
    for item in db.session.scalars(select(ApprovalPolicy).order_by(ApprovalPolicy.name)):
        used_by = [
            c.name
            for c in db.session.scalars(
                select(Channel).where(Channel.policy_id == item.id).order_by(Channel.name)
            )
        ]
        version = item.current_version.number if item.current_version else 0
        click.echo(
            f"{item.name} ({item.slug}) v{version}"
            + (f" — used by {', '.join(used_by)}" if used_by else "")
        )


# The report period, as every report command takes it.
period_from = click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day (in the organisation's timezone); default: all time.",
)
period_to = click.option(
    "--to",
    "end",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Day after the last one (excluded); default: all time.",
)


@click.group()
def report() -> None:
    """Reports computed from the workflow events."""


@report.command("latency")
@period_from
@period_to
@click.option(
    "--by",
    "group_by",
    default=None,
    type=click.Choice(metrics.GROUPINGS),
    help="One row per group; default: one overall row.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@with_appcontext
def report_latency(start, end, group_by: str | None, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """Time to first response and every stage of it, per group, with the bottleneck."""
    from respondr.domain.organisation import get_organisation

    tz = get_organisation(db.session).timezone
    with transaction():
        result = metrics.latency_report(
            db.session,
            start=start.date() if start else None,
            end=end.date() if end else None,
            tz=tz,
            group_by=group_by,
            now=utcnow(),
        )
    rows = [report_tables.latency_record(row) for row in result.rows]
    if fmt == "json":
        click.echo(json.dumps({"timezone": tz, "group_by": group_by, "rows": rows}, indent=2))
        return
    columns = list(rows[0]) if rows else ["group"]
    if fmt == "csv":
        click.echo(report_tables.to_csv(columns, rows), nl=False)
        return
    for row, record in zip(result.rows, rows, strict=True):
        click.echo(
            f"{record['group']}: {record['received']} received, {record['answered']} "
            f"answered, {record['open']} open, response rate "
            f"{record['response_rate']}"
        )
        for series in metrics.SERIES:
            figures = " ".join(
                f"{name}={_hours(record[f'{series}_{name}_s'])}"  # type: ignore[arg-type]
                for name in ("mean", "p50", "p90", "p95", "max")
            )
            label = metrics.STAGE_LABELS[series]
            click.echo(f"  {label:<28} n={record[series + '_count']:<6} {figures}")
            business = row.business[series]
            if business.count:  # only channels with business hours
                figures = " ".join(
                    f"{name}={_hours(getattr(business, name))}"
                    for name in ("mean", "p50", "p90", "p95", "max")
                )
                click.echo(f"    {'in business hours':<26} n={business.count:<6} {figures}")
        found = metrics.bottleneck(row)
        click.echo(f"Bottleneck: {found.sentence}" if found else "Bottleneck: nothing answered")


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f}h"


@click.command()
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has users.")
@with_appcontext
def demo(if_empty: bool) -> None:
    """Load Bernie's Bookstore: channels, staff, stock responses and eight weeks of history."""
    from respondr.domain import demo as demo_data

    with transaction():
        loaded = demo_data.load(db.session, now=utcnow(), only_if_empty=if_empty)
    if loaded:
        # A freshly filled database has no planner statistics; without them PostgreSQL
        # picks nested loops for the reports and a page takes seconds instead of a blink.
        with transaction():
            db.session.execute(text("ANALYZE"))
        click.echo("Loaded the Bernie's Bookstore demo.")
    for line in demo_data.sign_in_help():
        click.echo(line)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Back up the SQLite database to FILE (a new file), safely while respondr runs.

    For PostgreSQL use pg_dump (see README, Operations)."""
    from respondr import backup

    try:
        summary = backup.backup(current_app.config["SQLALCHEMY_DATABASE_URI"], file)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up to {file}: schema {summary.revision}, {summary.messages} messages.")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the existing database.")
@with_appcontext
def restore_command(file: Path, yes: bool) -> None:
    """Replace the SQLite database with the backup FILE, once it checks out (a respondr
    database, integrity_check ok). Stop the app servers and workers first.

    For PostgreSQL use pg_restore (see README, Operations)."""
    from respondr import backup

    db.engine.dispose()  # no connection of ours stays open on the old contents
    try:
        summary = backup.restore(current_app.config["SQLALCHEMY_DATABASE_URI"], file, replace=yes)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Restored {file}: schema {summary.revision}, {summary.messages} messages.")
    click.echo("Run respondr init-db if the backup is from an older release.")


@click.command()
@click.option("--workers", default=2, show_default=True, help="Worker threads.")
@with_appcontext
def worker(workers: int) -> None:
    """Run a task worker (publishing, feed polling, claim lapses, escalation)."""
    import time

    from huey.consumer import Consumer
    from redis.exceptions import RedisError

    from respondr.tasks import huey

    # A worker killed inside a periodic task leaves its huey lock behind for good (locks
    # do not expire), and the publishing sweep would never run again; a starting worker
    # clears them, once the task store answers. Every periodic task is safe to run twice
    # at once, should another worker be inside one at that moment.
    while True:
        try:
            huey.flush_locks()
            break
        except RedisError as error:
            click.echo(f"The task store is not answering ({error}); trying again.", err=True)
            time.sleep(2)
    Consumer(huey, workers=workers, worker_type="thread", periodic=True).run()


@click.command()
@click.option("--no-worker", is_flag=True, help="Do not start a task worker beside the server.")
@with_appcontext
def serve(no_worker: bool) -> None:
    """Serve respondr on HOST:PORT, with a task worker process beside it."""
    from werkzeug.serving import run_simple

    settings = current_app.extensions["respondr.settings"]
    worker_process = None
    if not no_worker:
        worker_process = subprocess.Popen([sys.argv[0], "worker"])  # noqa: S603  # nosec B603
    try:
        click.echo(f"respondr is serving on http://{settings.host}:{settings.port}/")
        run_simple(settings.host, settings.port, current_app._get_current_object(), threaded=True)
    finally:
        if worker_process is not None:
            worker_process.terminate()
            worker_process.wait(timeout=10)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every line and report; store nothing.")
@click.option("--channel", "channel_ref", help="Channel (name or id) for rows that name none.")
@with_appcontext
def import_messages(file: str, dry_run: bool, channel_ref: str | None) -> None:
    """Import fan messages from a CSV or JSON Lines file.

    Each row is a message with the API's fields: channel, external_id, author (handle,
    name, followers), text, posted_at, url, thread_id, in_reply_to. A CSV file names
    its columns in its first row, nested fields dotted (author.handle); an empty cell
    is left out. A JSON Lines file (.jsonl, .ndjson) holds one JSON object a line.

    Rows are committed 500 at a time. A message already stored is left as it is, so an
    interrupted import can simply be run again. Every rejected line is listed as
    "line N: field: reason", and then the command exits with status 1.
    """
    from respondr.domain import bulk_import

    with transaction():
        rows = bulk_import.read_rows(file)
        channel = channel_ops.find_channel(db.session, channel_ref) if channel_ref else None
    _run_import(
        file,
        rows,
        dry_run,
        lambda chunk: bulk_import.import_rows(
            db.session, chunk, channel=channel, actor=None, now=utcnow(), dry_run=dry_run
        ),
    )


def _run_import(file: str, rows, dry_run: bool, import_chunk) -> None:  # type: ignore[no-untyped-def]
    """Feed ``rows`` to ``import_chunk`` behind a progress bar, committing 500 lines at a
    time; list every rejected line ("line N: field: reason"), sum up, and exit with
    status 1 when any line was rejected."""
    from respondr.domain import bulk_import

    report = bulk_import.ImportReport()
    total = bulk_import.count_lines(file)
    with click.progressbar(length=total, label=f"Importing {file}", file=sys.stderr) as bar:

        def advancing(rows: Iterator[bulk_import.Row]) -> Iterator[bulk_import.Row]:
            for line, row in rows:
                bar.update(line - bar.pos)
                yield line, row

        # A dry run checks the whole file in one transaction, so that a message repeated
        # further on is seen as already there, as it would be in the real import.
        tracked = advancing(rows)
        for chunk in [tracked] if dry_run else bulk_import.chunks(tracked):
            with transaction():
                report += import_chunk(chunk)
        bar.update(total - bar.pos)
    for rejected in report.rejected:
        click.echo(str(rejected))
    outcome = f"{report.existing} already stored, {len(report.rejected)} rejected."
    if dry_run:
        click.echo(f"Dry run, nothing stored: {report.created} would be created, {outcome}")
    else:
        click.echo(f"Imported {file}: {report.created} created, {outcome}")
    if report.rejected:
        sys.exit(1)


@click.command("import-history")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every line and report; store nothing.")
@with_appcontext
def import_history(file: str, dry_run: bool) -> None:
    """Import messages with their history (claims, submissions, decisions, publication)
    from a JSON Lines file; the format is in the README ("History import").

    Each line is checked whole before any of it is written. A message already stored is
    left as it is, so the same file imported twice changes nothing. Every rejected line
    is listed as "line N: field: reason", and then the command exits with status 1.
    """
    from respondr.domain import history_import

    with transaction():
        rows = history_import.read_rows(file)
    _run_import(
        file,
        rows,
        dry_run,
        lambda chunk: history_import.import_rows(db.session, chunk, now=utcnow(), dry_run=dry_run),
    )


@click.command("whatif")
@click.option("--policy", "policy_ref", required=True, help="A saved policy or a preset.")
@period_from
@period_to
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@with_appcontext
def whatif_command(policy_ref: str, start, end, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """What the period would have looked like under another approval policy."""
    from respondr.domain import whatif
    from respondr.domain.organisation import get_organisation
    from respondr.web.whatif import shown

    with transaction():
        result = whatif.run_whatif(
            db.session,
            policy_ref=policy_ref,
            start=start.date() if start else None,
            end=end.date() if end else None,
            tz=get_organisation(db.session).timezone,
            now=utcnow(),
        )
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"What if {result.policy} had been in force ({result.received} messages received)")
    click.echo(f"{'':<32}{'actual':>14}{'estimated':>14}")
    for label, unit, actual, estimated in whatif.comparison(result):
        click.echo(f"{label:<32}{shown(unit, actual):>14}{shown(unit, estimated):>14}")
    click.echo("Assumptions:")
    for sentence in result.assumptions:
        click.echo(f"- {sentence}")


@click.command("sla-warning")
@click.argument("minutes", type=int, required=False)
@with_appcontext
def sla_warning(minutes: int | None) -> None:
    """Show, or set to MINUTES, how long before its SLA runs out a message is flagged as
    about to breach (inbox badge, and a notice to whoever should answer it)."""
    from respondr.domain import organisation, sla_alerts

    if minutes is not None:
        with transaction():
            organisation.update_settings(
                db.session, actor=None, now=utcnow(), sla_warning_minutes=minutes
            )
    warning = sla_alerts.warning_time(db.session)
    click.echo(f"SLA warning time: {warning.total_seconds() / 60:.0f} min")


def register(app: Flask) -> None:
    for command in (
        report,
        sla_warning,
        init_db,
        users,
        tokens,
        channels,
        fans,
        policies_group,
        demo,
        import_messages,
        import_history,
        whatif_command,
        worker,
        serve,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from respondr import create_app

    return create_app()


def main() -> None:
    FlaskGroup(
        create_app=_create_app,
        add_default_commands=False,
        help="respondr: answer your fans, and see where the time goes.",
    )(prog_name="respondr")
