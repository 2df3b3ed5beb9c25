using System.CommandLine;
using System.Text.Json.Nodes;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Output;
using Keys.KeysCtl.Parsing;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>keys list|create|delete|roll</c>: the API keys of a project's environment.</summary>
public static class KeysCommands
{
    private static readonly string[] Types = ["publishable", "secret"];

    private static readonly string[] Headers =
        ["ID", "Name", "Type", "Environment", "Key", "Scopes", "Created", "Expires", "Last used", "Status"];

    public static Command Build(Cli cli) =>
        new("keys", "API keys: publishable (pk_…) and secret (sk_…), per environment.")
        {
            List(cli),
            Create(cli),
            Delete(cli),
            Roll(cli),
        };

    private static Command List(Cli cli)
    {
        var project = Cli.ProjectOption();
        var environment = Cli.EnvironmentOption(required: false);
        environment.Description = "the environment's name [default: every environment of the project]";
        var list = new Command("list", "List the keys of an environment, or of every environment of a project.") { project, environment };
        cli.SetAction(list, async (context, cancellationToken) =>
        {
            var projectPath = $"v1/projects/{KeyAdminApi.Segment(context.Required(project))}";
            using var api = context.Api();
            IReadOnlyList<string> environments = context.Get(environment) is { } one
                ? [one]
                : (await api.GetAsync<Project>(projectPath, cancellationToken)).Message.Environments.Select(e => e.Name).ToList();

            var keys = new List<ApiKey>();
            var json = new JsonArray();
            foreach (var name in environments)
            {
                var reply = await api.GetAsync<ListKeysResponse>(
                    $"{projectPath}/environments/{KeyAdminApi.Segment(name)}/keys", cancellationToken);
                keys.AddRange(reply.Message.Keys);
                foreach (var key in reply.Json["keys"]?.AsArray() ?? [])
                {
                    json.Add(key?.DeepClone());
                }
            }

            if (context.Out.IsJson)
            {
                // One environment or all, the same shape: ListKeysResponse, each key naming its environment.
                context.Out.Json(new JsonObject { ["keys"] = json });
                return;
            }

            var now = context.Console.Clock.GetUtcNow();
            context.Out.Table(Headers, keys.Select(k => Row(k, now)));
        });
        return list;
    }

    private static Command Create(Cli cli)
    {
        var project = Cli.ProjectOption();
        var environment = Cli.EnvironmentOption();
        var name = Cli.Required("--name", "the key's name (unique among the environment's live keys)");
        var type = Cli.Required("--type", "publishable (browsers, apps: may only read unless scoped) or secret (servers)");
        type.AcceptOnlyFromAmong(Types);
        var scopes = new Option<string[]>("--scope")
        {
            Description = "a scope, resource:operation (e.g. orders:read, *:read); repeat it, or separate with commas [default: none]",
            HelpName = "scope",
        };
        var expires = cli.ExpiresOption("when the key stops working");
        var create = new Command(
            "create",
            "Create a key. A secret key's value is printed once, to stdout, and never again.")
        {
            project, environment, name, type, scopes, expires,
        };
        cli.SetAction(create, async (context, cancellationToken) =>
        {
            var body = new JsonObject
            {
                ["name"] = context.Required(name),
                ["type"] = context.Required(type),
                ["scopes"] = Json.Array((context.Get(scopes) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))),
            };
            if (context.Get(expires) is { } expiry)
            {
                body["expiresAt"] = Json.Timestamp(expiry);
            }

            using var api = context.Api();
            var reply = await api.PostAsync<CreateKeyResponse>(KeysPath(context, project, environment), body, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            WriteKey(context.Out, reply.Message.Key, reply.Message.Value);
        });
        return create;
    }

    private static Command Delete(Cli cli)
    {
        var project = Cli.ProjectOption();
        var environment = Cli.EnvironmentOption();
        var keyId = new Argument<string>("key-id") { Description = "the key's ID (key_…)" };
        var confirmName = Cli.Required("--confirm-name", "the key's name, typed again: the API deletes nothing unless it matches");
        var delete = new Command(
            "delete",
            "Delete a key: every gateway rejects it from that moment.")
        {
            keyId, project, environment, confirmName,
        };
        cli.SetAction(delete, async (context, cancellationToken) =>
        {
            var path = $"{KeysPath(context, project, environment)}/{KeyAdminApi.Segment(context.Get(keyId))}" +
                $"?confirmName={Uri.EscapeDataString(context.Required(confirmName))}";
            using var api = context.Api();
            var reply = await api.DeleteAsync<DeleteKeyResponse>(path, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            context.Out.Line($"Deleted key {reply.Message.Id} ({Sanitize.Line(context.Required(confirmName))}): gateways reject it from now on.");
        });
        return delete;
    }

    private static Command Roll(Cli cli)
    {
        var project = Cli.ProjectOption();
        var environment = Cli.EnvironmentOption();
        var keyId = new Argument<string>("key-id") { Description = "the key's ID (key_…)" };
        var grace = new Option<TimeSpan>("--grace")
        {
            Description = "how long the old key keeps working: a duration (1h, 24h, 7d; at most 30d), 0 to stop it now",
            Required = true,
            HelpName = "duration",
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
                if (Durations.TryParse(text, out var duration) && duration.TotalSeconds <= int.MaxValue)
                {
                    return duration;
                }

                result.AddError($"--grace takes a duration (0, 90s, 1h, 7d), not '{text}'");
                return default;
            },
        };
        var expires = cli.ExpiresOption("when the new key stops working [default: when the old one would]");
        expires.Description = $"when the new key stops working: {Durations.Help} [default: when the old one would]";
        var roll = new Command(
            "roll",
            "Replace a key with a new one of the same name, type and scopes. A new secret key's value is printed once.")
        {
            keyId, project, environment, grace, expires,
        };
        cli.SetAction(roll, async (context, cancellationToken) =>
        {
            var body = new JsonObject { ["gracePeriodSeconds"] = (int)context.Get(grace).TotalSeconds };
            if (context.Get(expires) is { } expiry)
            {
                body["expiresAt"] = Json.Timestamp(expiry);
            }

            var path = $"{KeysPath(context, project, environment)}/{KeyAdminApi.Segment(context.Get(keyId))}:roll";
            using var api = context.Api();
            var reply = await api.PostAsync<RollKeyResponse>(path, body, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            var previous = reply.Message.PreviousKey;
            context.Out.Line(previous.RevokesAt is { } until && until.ToDateTimeOffset() > context.Console.Clock.GetUtcNow()
                ? $"Rolled {previous.Id}: it keeps working until {Renderer.Time(until, seconds: true)}."
                : $"Rolled {previous.Id}: it has stopped working.");
            WriteKey(context.Out, reply.Message.Key, reply.Message.Value);
        });
        return roll;
    }

    private static string KeysPath(CommandContext context, Option<string> project, Option<string> environment) =>
        $"v1/projects/{KeyAdminApi.Segment(context.Required(project))}/environments/{KeyAdminApi.Segment(context.Required(environment))}/keys";

    /// <summary>A new key: its details, then its value, which for a secret key is shown this once.</summary>
    private static void WriteKey(Renderer output, ApiKey key, string value)
    {
        output.Details(
        [
            ("ID", key.Id),
            ("Name", key.Name),
            ("Type", key.Type),
            ("Environment", key.Environment),
            ("Scopes", Renderer.List(key.Scopes, "none")),
            ("Expires", Renderer.Time(key.ExpiresAt) is { Length: > 0 } expires ? expires : "never"),
        ]);
        if (key.Type == "secret")
        {
            output.SecretOnce("Secret key", value, "this is the only time the secret key's value is shown: store it now");
        }
        else
        {
            output.Line(string.Empty);
            output.Line("Publishable key:");
            output.Line(value);
        }
    }

    private static string[] Row(ApiKey key, DateTimeOffset now) =>
    [
        key.Id,
        key.Name,
        key.Type,
        key.Environment,
        // Masked for both types, to keep rows narrow: a publishable key's whole value is in the JSON output.
        key.MaskedKey,
        Renderer.List(key.Scopes),
        Renderer.Time(key.CreatedAt),
        Renderer.Time(key.ExpiresAt),
        Renderer.Time(key.LastUsedAt),
        Status(key, now),
    ];

    public static string Status(ApiKey key, DateTimeOffset now) =>
        key.RevokesAt is { } until
            ? until.ToDateTimeOffset() > now ? $"rolled, works until {Renderer.Time(until)}" : "revoked"
            : key.ExpiresAt is { } expires && expires.ToDateTimeOffset() <= now ? "expired" : "active";
}
