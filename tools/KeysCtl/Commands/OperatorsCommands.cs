using System.CommandLine;
using System.Text.Json.Nodes;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Output;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>operators list|create|revoke</c>: who may manage keys, and their tokens (owners only).</summary>
public static class OperatorsCommands
{
    private static readonly string[] Roles = ["owner", "editor", "viewer"];

    public static Command Build(Cli cli)
    {
        var list = new Command("list", "List the operators, revoked and expired ones too.");
        cli.SetAction(list, async (context, cancellationToken) =>
        {
            using var api = context.Api();
            var reply = await api.GetAsync<ListOperatorsResponse>("v1/operators", cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            var now = context.Console.Clock.GetUtcNow();
            context.Out.Table(
                ["ID", "Name", "Role", "Projects", "Token", "Created", "Created by", "Expires", "Status"],
                reply.Message.Operators.Select(o => (IReadOnlyList<string>)
                [
                    o.Id, o.Name, o.Role, Renderer.List(o.ProjectIds, "all"), o.MaskedToken, Renderer.Time(o.CreatedAt),
                    o.CreatedBy, Renderer.Time(o.ExpiresAt), Status(o, now),
                ]));
        });

        var name = Cli.Required("--name", "who or what will hold the token (e.g. ana, ci-deploy)");
        var role = Cli.Required("--role", "viewer reads; editor also changes projects and keys; owner also manages operators");
        role.AcceptOnlyFromAmong(Roles);
        var projects = new Option<string[]>("--project", "-p")
        {
            Description = "limit the token to this project (repeatable; editor and viewer only) [default: every project]",
            HelpName = "prj_…",
        };
        var expires = cli.ExpiresOption("when the token stops working");
        var create = new Command(
            "create",
            "Issue an operator token. It is printed once, to stdout, and never again.")
        {
            name, role, projects, expires,
        };
        cli.SetAction(create, async (context, cancellationToken) =>
        {
            var body = new JsonObject
            {
                ["name"] = context.Required(name),
                ["role"] = context.Required(role),
                ["projectIds"] = Json.Array(context.Get(projects) ?? []),
            };
            if (context.Get(expires) is { } expiry)
            {
                body["expiresAt"] = Json.Timestamp(expiry);
            }

            using var api = context.Api();
            var reply = await api.PostAsync<CreateOperatorResponse>("v1/operators", body, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            var created = reply.Message.Operator;
            context.Out.Details(
            [
                ("ID", created.Id),
                ("Name", created.Name),
                ("Role", created.Role),
                ("Projects", Renderer.List(created.ProjectIds, "all")),
                ("Expires", Renderer.Time(created.ExpiresAt) is { Length: > 0 } at ? at : "never"),
            ]);
            context.Out.SecretOnce(
                "Operator token", reply.Message.Token, "this is the only time the operator token is shown: hand it over now");
        });

        var operatorId = new Argument<string>("operator-id") { Description = "the operator's ID (opr_…)" };
        var revoke = new Command("revoke", "Revoke an operator's token: it stops working at once.") { operatorId };
        cli.SetAction(revoke, async (context, cancellationToken) =>
        {
            using var api = context.Api();
            var reply = await api.PostAsync<Operator>(
                $"v1/operators/{KeyAdminApi.Segment(context.Get(operatorId))}:revoke", [], cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            context.Out.Line($"Revoked {reply.Message.Id} ({Sanitize.Line(reply.Message.Name)}): its token stops working at once.");
        });

        return new Command("operators", "Operators and their tokens (owner role).") { list, create, revoke };
    }

    private static string Status(Operator o, DateTimeOffset now) =>
        o.RevokedAt is { } revoked ? $"revoked {Renderer.Time(revoked)}{(o.RevokedBy.Length > 0 ? $" by {o.RevokedBy}" : "")}"
        : o.ExpiresAt is { } expires && expires.ToDateTimeOffset() <= now ? "expired"
        : "active";
}
