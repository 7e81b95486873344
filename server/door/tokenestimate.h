// SPDX-License-Identifier: Apache-2.0
// The inference door's estimate of a request's tokens before it runs (design §15): what the check
// reserves — prompt tokens estimated from the text, plus the output the request may generate
// (max_tokens × n) — settled later with the upstream's reported usage.
//
// No tokenizer: a model's vocabulary is the upstream's business, and the estimate only has to be
// near and on the high side (the reservation is reweighed to the actual count when the answer
// ends). The rule follows how BPE vocabularies (cl100k, o200k, Llama's) cut text: a word of letters
// with its leading space is one token up to 8 letters, one more per 8 after; digits go in threes;
// each punctuation or symbol character is one; a run of blanks or newlines is one; a CJK, kana or
// hangul character is one; other non-ASCII letters count as letters. A chat adds 3 per message
// (role and separators) and 3 to prime the reply, as OpenAI's cookbook counts. bench/door/estimate
// measures it against a real tokenizer (the README has the figures).
#pragma once

#include "door/layer.h"

#include <QJsonObject>
#include <QString>

namespace sluice {

qint64 estimateTextTokens(QStringView text);

enum class DoorApi { ChatCompletions, Completions, Embeddings };

struct TokenEstimate
{
    qint64 promptTokens = 0;
    qint64 outputTokens = 0; // max output × choices (0 for embeddings)
    qint64 total() const { return promptTokens + outputTokens; }
};

// Validates what the estimate reads and the fields the door relies on (model, stream, user, the
// prompt's shape, max_tokens, n): an error names the field (the door answers 400). defaultMaxTokens:
// the output reserved when the request names none (chat; completions default to OpenAI's 16).
TokenEstimate estimateRequest(DoorApi api, const QJsonObject &body, qint64 defaultMaxTokens, QString *error);

} // namespace sluice
