using System.CommandLine;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Output;
using Keys.KeysCtl.Parsing;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>keys list|create|update|disable|enable|find|delete|roll</c>: the API keys of a project's environment.</summary>
public static partial class KeysCommands
{
    private static readonly string[] Types = ["publishable", "secret"];

    private static readonly string[] Headers =
        ["ID", "Name", "Type", "Environment", "Key", "Scopes", "Created", "Expires", "Last used", "Status"];

    private static readonly string[] Statuses = ["active", "disabled", "expired", "rolling"];

    /// <summary>The most keys one page may hold: the fewest calls for a long listing.</summary>
    private const int PageSize = 500;

    /// <summary>How far ahead an expiry is worth a hint in the listing.</summary>
    private static readonly TimeSpan ExpirySoon = TimeSpan.FromDays(7);

    /// <summary>How long a key may go unused before the listing asks whether it is still needed.</summary>
    private static readonly TimeSpan Unused = TimeSpan.FromDays(90);

    public static Command Build(Cli cli) =>
        new("keys", "API keys: publishable (pk_…) and secret (sk_…), per environment.")
        {
            List(cli),
            Create(cli),
            Update(cli),
            Disable(cli, enabled: false),
            Disable(cli, enabled: true),
            Find(cli),
            Delete(cli),
            Roll(cli),
        };

    private static Command List(Cli cli)
    {
        var project = Cli.ProjectOption();
        var environment = Cli.EnvironmentOption(required: false);
        environment.Description = "the environment's name [default: every environment of the project]";
        var type = new Option<string>("--type") { Description = "only keys of this type [default: both]", HelpName = "type" };
        type.AcceptOnlyFromAmong(Types);
        var status = new Option<string>("--status")
        {
            Description = "only keys in this state: active, disabled, expired, or rolling (rolled, in their grace period) [default: all]",
            HelpName = "status",
        };
        status.AcceptOnlyFromAmong(Statuses);
        var search = new Option<string>("--search")
        {
            Description = "only keys whose name contains this (any case), or whose masked key shows it (its last characters); to identify a whole key, use `keys find`",
            HelpName = "text",
        };
        var list = new Command(
            "list",
            "List the keys of an environment, or of every environment of a project: all of them, page after page.")
        {
            project, environment, type, status, search,
        };
        list.Validators.Add(result =>
        {
            // The search goes into the URL, where proxies and access logs keep it: a whole key or token must not.
            if (result.GetValue(search) is { } text && WholeKey().IsMatch(text))
            {
                result.AddError(text.Contains("op_", StringComparison.Ordinal)
                    ? "--search takes part of a name or the last characters of a key, never an operator token (URLs end up in logs)"
                    : "--search takes part of a name or the last characters of a key, never a whole key (URLs end up in logs): to identify a key, pipe it to `keysctl keys find`");
            }
        });
        cli.SetAction(list, async (context, cancellationToken) =>
        {
            var projectPath = $"v1/projects/{KeyAdminApi.Segment(context.Required(project))}";
            using var api = context.Api();
            IReadOnlyList<string> environments = context.Get(environment) is { } one
                ? [one]
                : (await api.GetAsync<Project>(projectPath, cancellationToken)).Message.Environments.Select(e => e.Name).ToList();

            var filters = new List<(string, string)>();
            foreach (var (name, value) in new[] { ("type", context.Get(type)), ("status", context.Get(status)), ("q", context.Get(search)) })
            {
                if (!string.IsNullOrEmpty(value))
                {
                    filters.Add((name, value));
                }
            }

            var keys = new List<ApiKey>();
            var json = new JsonArray();
            foreach (var name in environments)
            {
                var listing = await Paging.ReadAllAsync<ListKeysResponse, ApiKey>(
                    api, $"{projectPath}/environments/{KeyAdminApi.Segment(name)}/keys", filters, PageSize, "keys",
                    r => r.Keys, r => r.NextPageToken, cancellationToken);
                keys.AddRange(listing.Items);
                foreach (var key in listing.Json)
                {
                    json.Add(key?.DeepClone());
                }
            }

            // A KeyAdmin older than the filters ignores them and lists every key: a listing asked for disabled keys must be that.
            var (wantedType, wantedStatus) = (context.Get(type), context.Get(status));
            if (keys.Any(k => (wantedType is not null && k.Type != wantedType) || (wantedStatus is not null && k.Status != wantedStatus)))
            {
                throw new KeysCtlException(
                    "KeyAdmin listed keys that --type or --status leave out", "this KeyAdmin does not filter keys: it is older than this keysctl");
            }

            if (context.Out.IsJson)
            {
                // One environment or all, every page: one ListKeysResponse, each key naming its environment.
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

    /// <summary>
    /// The key's state as the API says it (<c>status</c>), or as an older KeyAdmin's fields imply it; and in the listing,
    /// what will bite soon: an expiry within a week, a key unused for 90 days.
    /// </summary>
    public static string Status(ApiKey key, DateTimeOffset now, bool hints = true)
    {
        var state = key.Status switch
        {
            "" => key.RevokesAt is { } until
                ? until.ToDateTimeOffset() > now ? "rolling" : "revoked"
                : key.ExpiresAt is { } expires && expires.ToDateTimeOffset() <= now ? "expired" : "active",
            var status => status,
        };
        var text = state switch
        {
            "rolling" => $"rolled, works until {Renderer.Time(key.RevokesAt)}",
            "deleted" when key.DeletedAt is { } deleted => $"deleted {Renderer.Time(deleted)}",
            _ => state,
        };
        if (!hints || state is not ("active" or "disabled"))
        {
            return text;
        }

        var notes = new List<string> { text };
        if (key.ExpiresAt?.ToDateTimeOffset() - now is { } left && left > TimeSpan.Zero && left <= ExpirySoon)
        {
            notes.Add($"expires in {Renderer.Span(left)}");
        }

        if (now - (key.LastUsedAt ?? key.CreatedAt)?.ToDateTimeOffset() >= Unused)
        {
            notes.Add($"unused {Unused.TotalDays:0}+ days");
        }

        return string.Join("; ", notes);
    }

    /// <summary>
    /// A whole key or operator token (prefix and at least 16 characters of its body), as opposed to a part of a key that
    /// a search may hold.
    /// </summary>
    [GeneratedRegex(@"(?<![A-Za-z0-9])(?:[ps]k|op)_[A-Za-z0-9]{16,}")]
    private static partial Regex WholeKey();
}
