using System.Text.RegularExpressions;
using Keys.KeyAdmin.Rest;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi.Any;
using Microsoft.OpenApi.Models;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Keys.KeyAdmin.OpenApi;

/// <summary>
/// Gives each REST operation what SDK generators and linters need: an <c>operationId</c> named after its RPC
/// (<c>createKey</c>), a one-line summary, its tag, and one response per error status it can answer, each with the
/// shared <c>Error</c> schema and the reasons (<c>x-reason-codes</c>) from <see cref="ErrorCatalog"/>. Runs after the
/// proto comments have been applied, so the summary they gave (the whole comment) becomes the description.
/// </summary>
public sealed partial class OperationConventionsFilter : IOperationFilter
{
    public const string ErrorSchema = "Error";
    public const string ReasonCodesExtension = "x-reason-codes";

    /// <summary>Longer first sentences are cut at their first colon or semicolon: a summary is one line in a generated client.</summary>
    public const int MaxSummaryLength = 100;

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var transcoding = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<GrpcJsonTranscodingMetadata>().FirstOrDefault();
        if (transcoding is null)
        {
            return;
        }

        var rpc = transcoding.MethodDescriptor.Name;
        if (!ErrorCatalog.Operations.TryGetValue(rpc, out var entry))
        {
            // OpenApiDocumentTests and ErrorCatalogTests fail on this: every RPC is in the catalog.
            throw new InvalidOperationException($"{rpc} has no entry in ErrorCatalog: say which errors it can answer there.");
        }

        var path = RestOperation.PathOf(transcoding.HttpRule);
        operation.OperationId = entry.AdditionalOperationIds.TryGetValue(path, out var additional) ? additional : CamelCase(rpc);

        var comment = Collapse(operation.Summary ?? "");
        operation.Summary = entry.Summary ?? SummaryOf(comment);
        operation.Description = comment.Length > 0 && comment != operation.Summary ? comment : operation.Description;
        operation.Tags = [new OpenApiTag { Name = entry.Tag }];

        operation.Responses.Remove("default");
        foreach (var status in ErrorCatalog.ReasonsOf(rpc, hasBody: transcoding.HttpRule.Body.Length > 0).GroupBy(r => r.Status))
        {
            operation.Responses[status.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)] = ErrorResponse(status.Key, [.. status]);
        }

        operation.Responses["default"] = new OpenApiResponse
        {
            Description = "Any other failure, such as 500 (an error KeyAdmin did not expect) or 501 (an operation this KeyAdmin does not implement).",
            Content = ErrorContent(),
        };
    }

    /// <summary>The first sentence of a proto comment, cut at its first colon or semicolon when it is longer than a line.</summary>
    public static string SummaryOf(string comment)
    {
        var text = Collapse(comment);
        var end = SentenceEnd().Match(text);
        var sentence = end.Success ? text[..(end.Index + 1)] : text;
        if (sentence.Length > MaxSummaryLength && sentence.IndexOfAny([':', ';']) is var cut and > 0)
        {
            sentence = sentence[..cut] + ".";
        }

        return sentence;
    }

    public static string CamelCase(string rpc) => char.ToLowerInvariant(rpc[0]) + rpc[1..];

    private static OpenApiResponse ErrorResponse(int status, IReadOnlyList<ErrorReason> reasons)
    {
        var response = new OpenApiResponse
        {
            Description = $"{ReasonPhrases.GetReasonPhrase(status)}. `details[0].reason` is one of:\n\n"
                + string.Join("\n", reasons.Select(r => $"- `{r.Code}`: {r.When}")),
            Content = ErrorContent(),
        };
        response.Extensions[ReasonCodesExtension] = new OpenApiArray();
        ((OpenApiArray)response.Extensions[ReasonCodesExtension]).AddRange(reasons.Select(r => new OpenApiString(r.Code)));
        if (status == StatusCodes.Status429TooManyRequests)
        {
            response.Headers["Retry-After"] = new OpenApiHeader
            {
                Description = "Seconds until this address may try a token again.",
                Schema = new OpenApiSchema { Type = "integer" },
            };
        }

        return response;
    }

    private static Dictionary<string, OpenApiMediaType> ErrorContent() => new()
    {
        ["application/json"] = new OpenApiMediaType
        {
            Schema = new OpenApiSchema { Reference = new OpenApiReference { Type = ReferenceType.Schema, Id = ErrorSchema } },
        },
    };

    // Proto comments are wrapped at 120 columns: the line breaks are not the author's paragraphs.
    private static string Collapse(string text) => Whitespace().Replace(text, " ").Trim();

    // A sentence ends at '.', '?' or '!' before a space, except inside "e.g." and the like (a lowercase word follows).
    [GeneratedRegex(@"[.?!](?= [^a-z])")]
    private static partial Regex SentenceEnd();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
