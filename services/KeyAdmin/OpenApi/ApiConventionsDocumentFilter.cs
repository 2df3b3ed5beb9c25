using System.Globalization;
using Keys.KeyAdmin.Grpc;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi.Any;
using Microsoft.OpenApi.Models;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Keys.KeyAdmin.OpenApi;

/// <summary>
/// The document-wide part of the REST conventions: the <c>Error</c> and <c>ErrorInfo</c> schemas every error response
/// refers to, the tags with what each groups, the conventions in the description, and no schema that nothing uses
/// (the transcoder's <c>google.rpc.Status</c>, replaced by <c>Error</c>, which says what its details hold).
/// </summary>
public sealed class ApiConventionsDocumentFilter(IOptions<KeyAdminOptions> options) : IDocumentFilter
{
    public const string ErrorInfoSchema = "ErrorInfo";

    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        var schemas = document.Components.Schemas;
        schemas[OperationConventionsFilter.ErrorSchema] = ErrorSchema();
        schemas[ErrorInfoSchema] = ErrorInfo();
        document.Tags = [.. ErrorCatalog.Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description })];
        document.Info.Description += "\n\n" + Conventions(options.Value.MaxRequestBodyBytes);
        RemoveUnused(document);
    }

    private static string Conventions(int maxBody) =>
        "Every error is a `google.rpc.Status` in JSON (the `Error` schema) with one `google.rpc.ErrorInfo` in `details`: its "
        + "`reason` is a stable code to act on, and each operation lists the codes it can answer (also as `x-reason-codes`). "
        + $"Bodies are JSON in UTF-8 (else 415 `{ErrorCatalog.UnsupportedMediaType}`) of at most "
        + $"{maxBody.ToString(CultureInfo.InvariantCulture)} bytes (else 413 `{ErrorCatalog.RequestTooLarge}`, before the body is read); "
        + $"a body that does not parse, or has a field the operation does not take, is 400 `{ErrorCatalog.MalformedJson}`. "
        + $"A path with another method is 405 `{ErrorCatalog.MethodNotAllowed}` with `Allow`; an unknown path under /v1 is "
        + $"404 `{ErrorCatalog.RouteNotFound}`.";

    private static OpenApiSchema ErrorSchema() => new()
    {
        Type = "object",
        Description = "A refusal: `google.rpc.Status` as JSON, with the reason in `details`.",
        Required = new SortedSet<string> { "code", "message", "details" },
        Properties = new Dictionary<string, OpenApiSchema>
        {
            ["code"] = new()
            {
                Type = "integer",
                Format = "int32",
                Description = "The `google.rpc.Code`: 3 INVALID_ARGUMENT, 5 NOT_FOUND, 6 ALREADY_EXISTS, 7 PERMISSION_DENIED, "
                    + "8 RESOURCE_EXHAUSTED, 10 ABORTED, 12 UNIMPLEMENTED, 14 UNAVAILABLE, 16 UNAUTHENTICATED.",
            },
            ["message"] = new() { Type = "string", Description = "For people: it may change. Programs act on `details[0].reason`." },
            ["details"] = new()
            {
                Type = "array",
                Description = "One `ErrorInfo`.",
                Items = new OpenApiSchema { Reference = new OpenApiReference { Type = ReferenceType.Schema, Id = ErrorInfoSchema } },
            },
        },
    };

    private static OpenApiSchema ErrorInfo() => new()
    {
        Type = "object",
        Description = "`google.rpc.ErrorInfo`: why the request was refused.",
        Required = new SortedSet<string> { "@type", "reason", "domain" },
        Properties = new Dictionary<string, OpenApiSchema>
        {
            ["@type"] = new() { Type = "string", Enum = [new OpenApiString("type.googleapis.com/google.rpc.ErrorInfo")] },
            ["reason"] = new()
            {
                Type = "string",
                Description = "The stable error code, such as KEY_NOT_FOUND. Each operation's error responses list those it can answer.",
            },
            ["domain"] = new() { Type = "string", Enum = [new OpenApiString(ApiErrors.Domain)] },
            ["metadata"] = new()
            {
                Type = "object",
                Description = "More about some refusals: `field` (the field at fault), `allow` (405), `limit` (413).",
                AdditionalProperties = new OpenApiSchema { Type = "string" },
            },
        },
    };

    /// <summary>Removes the schemas that no operation reaches, directly or through other schemas.</summary>
    private static void RemoveUnused(OpenApiDocument document)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<OpenApiSchema>();
        foreach (var operation in document.Paths.Values.SelectMany(p => p.Operations.Values))
        {
            foreach (var parameter in operation.Parameters)
            {
                pending.Push(parameter.Schema);
            }

            foreach (var media in (operation.RequestBody?.Content.Values ?? []).Concat(operation.Responses.Values.SelectMany(r => r.Content.Values)))
            {
                pending.Push(media.Schema);
            }
        }

        while (pending.TryPop(out var schema))
        {
            if (schema is null)
            {
                continue;
            }

            if (schema.Reference is { Id: var id } && !used.Add(id))
            {
                continue;
            }

            var target = schema.Reference is { Id: var refId } && document.Components.Schemas.TryGetValue(refId, out var resolved) ? resolved : schema;
            foreach (var child in target.Properties.Values.Concat(target.AllOf).Concat(target.AnyOf).Concat(target.OneOf)
                .Append(target.Items).Append(target.AdditionalProperties).Append(target.Not))
            {
                pending.Push(child);
            }
        }

        foreach (var unused in document.Components.Schemas.Keys.Where(k => !used.Contains(k)).ToList())
        {
            document.Components.Schemas.Remove(unused);
        }
    }
}
