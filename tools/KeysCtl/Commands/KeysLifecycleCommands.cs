using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Keys.ApiKeys;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Output;
using Keys.KeysCtl.Parsing;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>keys update|disable|enable|find</c>: a key changed in place (its value stays), and a key found by its value.</summary>
public static partial class KeysCommands
{
    private static Command Update(Cli cli)
    {
        var project = Cli.ProjectOption();
        var environment = Cli.EnvironmentOption();
        var keyId = new Argument<string>("key-id") { Description = "the key's ID (key_…)" };
        var name = new Option<string>("--name") { Description = "a new name (unique among the environment's live keys)", HelpName = "name" };
        var scopes = Cli.List("--scope", "the key's scopes, replacing the ones it has: resource:operation (orders:read, *:read); repeat it, or separate with commas", "scope");
        var clearScopes = Cli.Flag("--clear-scopes", "remove every scope (a secret key may then do everything; a publishable key only read)");
        var expires = cli.ExpiresOption("when the key stops working");
        expires.Description = $"when the key stops working: {Durations.Help}";
        var noExpiry = Cli.Flag("--no-expiry", "the key never expires (unless the project's policy requires secret keys to)");
        var rateLimit = Cli.RateLimitOption("--rate-limit", "the key's own rate limit");
        var noRateLimit = Cli.Flag("--no-rate-limit", "remove the key's own rate limit: the project's default applies");
        var cidrs = Cli.List("--allow-cidr", "secret keys: accept the key only from this network (203.0.113.0/24, 2001:db8::/32); repeat it; replaces the list", "cidr");
        var origins = Cli.List("--allow-origin", "publishable keys: accept the key only from this origin (https://app.example.com); repeat it; replaces the list", "origin");
        var clearAllowlist = Cli.Flag("--clear-allowlist", "accept the key from any network or origin again");
        var metadata = new Option<JsonObject?>("--metadata")
        {
            Description = "your own data about the key, a JSON object of at most 1 KB (e.g. '{\"team\":\"billing\"}'); replaces what it has",
            HelpName = "json",
            CustomParser = result =>
            {
                try
                {
                    if (result.Tokens.Count == 1 && JsonNode.Parse(result.Tokens[0].Value) is JsonObject json)
                    {
                        return json;
                    }
                }
                catch (JsonException)
                {
                    // Reported below. The text is not repeated: it may be long, or hold what it should not.
                }

                result.AddError("--metadata takes a JSON object, such as '{\"team\":\"billing\"}'");
                return null;
            },
        };
        var clearMetadata = Cli.Flag("--clear-metadata", "remove the key's metadata");
        var update = new Command(
            "update",
            "Change a key in place, keeping its value: only what the options name is sent and changed. Gateways apply the change as they apply a delete.")
        {
            keyId, project, environment, name, scopes, clearScopes, expires, noExpiry, rateLimit, noRateLimit,
            cidrs, origins, clearAllowlist, metadata, clearMetadata,
        };
        Cli.Exclusive(update, scopes, clearScopes);
        Cli.Exclusive(update, expires, noExpiry);
        Cli.Exclusive(update, rateLimit, noRateLimit);
        // A key is secret (networks) or publishable (origins): it never has both lists.
        Cli.Exclusive(update, cidrs, origins, clearAllowlist);
        Cli.Exclusive(update, metadata, clearMetadata);
        Cli.NotEmpty(update, scopes, "--clear-scopes");
        Cli.NotEmpty(update, cidrs, "--clear-allowlist");
        Cli.NotEmpty(update, origins, "--clear-allowlist");
        Cli.AtLeastOne(update, [name, scopes, clearScopes, expires, noExpiry, rateLimit, noRateLimit, cidrs, origins, clearAllowlist, metadata, clearMetadata]);
        cli.SetAction(update, async (context, cancellationToken) =>
        {
            // The fields present are the ones KeyAdmin changes; null clears one. In the contract's order.
            var body = new JsonObject();
            if (context.Get(name) is { } newName)
            {
                body["name"] = newName;
            }

            if (context.Get(scopes) is { Length: > 0 } given)
            {
                body["scopes"] = Json.Array(Cli.Split(given));
            }
            else if (context.Get(clearScopes))
            {
                body["scopes"] = new JsonArray();
            }

            if (context.Get(expires) is { } expiry)
            {
                body["expiresAt"] = Json.Timestamp(expiry);
            }
            else if (context.Get(noExpiry))
            {
                body["expiresAt"] = null;
            }

            if (context.Get(rateLimit) is { } limit)
            {
                body["rateLimit"] = limit.ToJson();
            }
            else if (context.Get(noRateLimit))
            {
                body["rateLimit"] = null;
            }

            if (context.Get(cidrs) is { Length: > 0 } networks)
            {
                body["allowedCidrs"] = Json.Array(Cli.Split(networks));
            }
            else if (context.Get(origins) is { Length: > 0 } sites)
            {
                body["allowedOrigins"] = Json.Array(Cli.Split(sites));
            }
            else if (context.Get(clearAllowlist))
            {
                // Without the key's type at hand, both: the list it cannot have is empty already.
                body["allowedCidrs"] = new JsonArray();
                body["allowedOrigins"] = new JsonArray();
            }

            if (context.Get(metadata) is { } data)
            {
                body["metadata"] = data.DeepClone();
            }
            else if (context.Get(clearMetadata))
            {
                body["metadata"] = null;
            }

            using var api = context.Api();
            var reply = await api.PatchAsync<ApiKey>(KeyPath(context, project, environment, keyId), body, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            context.Out.Line($"Updated key {reply.Message.Id} ({Sanitize.Line(reply.Message.Name)}).");
            WriteDetails(context, reply);
        });
        return update;
    }

    /// <summary><c>keys disable</c> or (<paramref name="enabled"/>) <c>keys enable</c>: a switch that keeps everything else.</summary>
    private static Command Disable(Cli cli, bool enabled)
    {
        var project = Cli.ProjectOption();
        var environment = Cli.EnvironmentOption();
        var keyId = new Argument<string>("key-id") { Description = "the key's ID (key_…)" };
        var command = enabled
            ? new Command("enable", "Switch a disabled key back on: every gateway accepts it again.") { keyId, project, environment }
            : new Command(
                "disable",
                "Switch a key off without deleting it: every gateway refuses it (TOKEN_DISABLED) until `keys enable`.")
            {
                keyId, project, environment,
            };
        cli.SetAction(command, async (context, cancellationToken) =>
        {
            using var api = context.Api();
            var reply = await api.PatchAsync<ApiKey>(
                KeyPath(context, project, environment, keyId), new JsonObject { ["enabled"] = enabled }, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            var key = reply.Message;
            context.Out.Line(enabled
                ? $"Enabled key {key.Id} ({Sanitize.Line(key.Name)}): gateways accept it again."
                : $"Disabled key {key.Id} ({Sanitize.Line(key.Name)}): gateways refuse it until it is enabled again (keysctl keys enable).");
        });
        return command;
    }

    private static Command Find(Cli cli)
    {
        var find = new Command(
            "find",
            "Which key is this? Give the full key (found in a log, a repository) on stdin, or at the prompt, where it is not " +
            "echoed; never on the command line, where shell history and ps would keep it. Deleted keys are found too. " +
            "Exits 3 when it is not a key of the projects the token may see, 2 when what was given is not a key.");
        cli.SetAction(find, async (context, cancellationToken) =>
        {
            var value = await ReadKeyAsync(context, cancellationToken);
            using var api = context.Api();
            ApiReply<ApiKey> reply;
            try
            {
                // In the body: a URL is logged by proxies and servers, a body is not.
                reply = await api.PostAsync<ApiKey>("v1/keys:find", new JsonObject { ["key"] = value }, cancellationToken);
            }
            catch (ApiException e) when (e.Error.Reason == "KEY_NOT_FOUND")
            {
                // An answer, not a failure: a script tells "not ours" from "could not ask".
                throw new KeysCtlException(e.Message, e.Hint, ExitCodes.NotFound);
            }

            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            WriteDetails(context, reply);
        });
        return find;
    }

    /// <summary>
    /// The key to find, from stdin or the prompt, checked as KeyAdmin checks it (prefix, length, alphabet, checksum)
    /// before anything is sent: whatever was given by mistake (a token, a password, half a key) goes nowhere, exit 2.
    /// </summary>
    private static async Task<string> ReadKeyAsync(CommandContext context, CancellationToken cancellationToken)
    {
        string value;
        try
        {
            value = await SecretInput.ReadAsync(context.Console, "Key to find (pk_… or sk_…)", "key", "keysctl keys find", cancellationToken);
        }
        catch (KeysCtlException e)
        {
            throw new KeysCtlException($"{e.Message}; nothing was sent", e.Hint, ExitCodes.Usage);
        }

        if (value.StartsWith(OperatorToken.Prefix, StringComparison.Ordinal))
        {
            throw new KeysCtlException(
                "that is an operator token, not an API key; nothing was sent", "an owner can see whose it is by its masked form: keysctl operators list", ExitCodes.Usage);
        }

        if (!KeyString.IsWellFormed(value))
        {
            throw new KeysCtlException(
                $"that is not a whole API key ({KeyString.PublishablePrefix}… or {KeyString.SecretPrefix}…, {KeyString.Length} characters, its checksum right); nothing was sent",
                exitCode: ExitCodes.Usage);
        }

        return value;
    }

    private static string KeyPath(CommandContext context, Option<string> project, Option<string> environment, Argument<string> keyId) =>
        $"{KeysPath(context, project, environment)}/{KeyAdminApi.Segment(context.Get(keyId))}";

    /// <summary>One key, every field a person may want: where it lives, its state, and the rules it is checked by.</summary>
    private static void WriteDetails(CommandContext context, ApiReply<ApiKey> reply)
    {
        var key = reply.Message;
        var metadata = reply.Json["metadata"] is JsonObject { Count: > 0 } data ? data.ToJsonString() : "none";
        var fields = new List<(string, string)>();
        if (key.ProjectId.Length > 0)
        {
            fields.Add(("Project", key.ProjectId));
        }

        fields.AddRange(
        [
            ("Environment", key.Environment),
            ("ID", key.Id),
            ("Name", key.Name),
            ("Type", key.Type),
            ("Key", key.MaskedKey),
            ("Status", Status(key, context.Console.Clock.GetUtcNow())),
            ("Scopes", Renderer.List(key.Scopes, "none")),
            ("Created", Renderer.Time(key.CreatedAt)),
            ("Expires", Renderer.Time(key.ExpiresAt) is { Length: > 0 } expires ? expires : "never"),
            ("Last used", Renderer.Time(key.LastUsedAt) is { Length: > 0 } used ? used : "never"),
            ("Rate limit", key.RateLimit is null ? "the project's default" : RateLimits.Describe(key.RateLimit)),
            key.Type == "publishable"
                ? ("Allowed origins", Renderer.List(key.AllowedOrigins, "any"))
                : ("Allowed networks", Renderer.List(key.AllowedCidrs, "any")),
            ("Metadata", metadata),
        ]);
        context.Out.Details(fields);
    }
}
