// SPDX-License-Identifier: Apache-2.0
#include "policydialog.h"

#include "message.h"
#include "registrycompleter.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QIntValidator>
#include <QLabel>
#include <optional>
#include <QLineEdit>
#include <QPointer>
#include <QSpinBox>

namespace sluice {

PolicyDialog::PolicyDialog(const PolicyDto &p, QWidget *parent) : QDialog(parent), m_id(p.id)
{
    setWindowTitle(p.id > 0 ? QStringLiteral("Edit policy %1").arg(p.id) : QStringLiteral("New policy"));
    m_scope = new QComboBox;
    for (Scope s : kScopesBySpecificity)
        m_scope->addItem(scopeName(s));
    m_scope->setCurrentText(scopeName(p.scope));
    auto entity = [](const QString &name, const QString &value) {
        QComboBox *c = entityPicker(name, QStringLiteral("empty: default for each"));
        c->setCurrentText(value);
        return c;
    };
    m_tenant = entity(QStringLiteral("tenant"), p.tenantId);
    m_user = entity(QStringLiteral("user"), p.userId);
    m_model = entity(QStringLiteral("model"), p.modelId);
    m_tier = entity(QStringLiteral("tier"), p.modelTier);
    m_apiKey = new QLineEdit(p.apiKeyId ? QString::number(*p.apiKeyId) : QString());
    m_apiKey->setValidator(new QIntValidator(1, INT_MAX, m_apiKey));
    setPlaceholder(m_apiKey, QStringLiteral("empty: default for each"));
    m_unit = new QComboBox;
    m_unit->setObjectName(QStringLiteral("unit"));
    for (Unit u : kUnits)
        m_unit->addItem(unitName(u));
    m_unit->setCurrentText(unitName(p.unit));
    m_unit->setToolTip(QStringLiteral("requests: each request counts 1 · tokens: each request weighs its token cost, "
                                      "reconciled when it completes · concurrent: requests in flight at once (no window)"));
    m_window = new QSpinBox;
    m_window->setObjectName(QStringLiteral("window"));
    m_window->setRange(1, static_cast<int>(kMaxWindowSeconds));
    m_window->setSuffix(QStringLiteral(" s"));
    m_windowText = new QLabel;
    m_windowText->setObjectName(QStringLiteral("windowText"));
    connect(m_window, &QSpinBox::valueChanged, this, [this](int v) { m_windowText->setText(readableWindow(v)); });
    m_algorithm = new QComboBox;
    m_algorithm->setObjectName(QStringLiteral("algorithm"));
    m_algorithm->addItem(algorithmName(Algorithm::SlidingLog));
    m_algorithm->addItem(algorithmName(Algorithm::TokenBucket));
    m_algorithm->setCurrentText(algorithmName(p.algorithm));
    m_algorithm->setToolTip(QStringLiteral("sliding_log: exact, at most limit per window · token_bucket: bursts up to "
                                           "`burst`, refilled at limit per window"));
    m_burst = new QSpinBox;
    m_burst->setObjectName(QStringLiteral("burst"));
    m_burst->setRange(0, 1000000000);
    m_burst->setSpecialValueText(QStringLiteral("= limit"));
    m_burst->setValue(static_cast<int>(p.burst.value_or(0)));
    m_shadow = new QCheckBox(QStringLiteral("shadow: report, never block"));
    m_shadow->setObjectName(QStringLiteral("shadow"));
    m_shadow->setChecked(p.shadow);
    m_window->setValue(static_cast<int>(p.unit == Unit::Concurrent ? 3600 : p.windowSeconds));
    m_limit = new QLineEdit(QString::number(p.limit));
    m_limit->setObjectName(QStringLiteral("limit"));
    m_apiKey->setObjectName(QStringLiteral("apiKeyId"));
    m_enabled = new QCheckBox(QStringLiteral("enforced"));
    m_enabled->setChecked(p.enabled);
    m_description = new QLineEdit(p.description);

    auto *form = new QFormLayout(this);
    form->addRow(QStringLiteral("Scope"), m_scope);
    form->addRow(QStringLiteral("Tenant"), m_tenant);
    form->addRow(QStringLiteral("User"), m_user);
    form->addRow(QStringLiteral("API key id"), m_apiKey);
    form->addRow(QStringLiteral("Model"), m_model);
    form->addRow(QStringLiteral("Tier"), m_tier);
    form->addRow(QStringLiteral("Unit"), m_unit);
    auto *windowRow = new QHBoxLayout;
    windowRow->addWidget(m_window, 1);
    windowRow->addWidget(m_windowText);
    form->addRow(QStringLiteral("Window"), windowRow);
    form->addRow(QStringLiteral("Algorithm"), m_algorithm);
    form->addRow(QStringLiteral("Burst"), m_burst);
    form->addRow(QStringLiteral("Mode"), m_shadow);
    form->addRow(QStringLiteral("Limit"), m_limit);
    form->addRow(QStringLiteral("Enabled"), m_enabled);
    form->addRow(QStringLiteral("Description"), m_description);
    m_error = new QLabel;
    m_error->setObjectName(QStringLiteral("policyDialogError"));
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #c62828"));
    m_error->hide();
    form->addRow(m_error);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &PolicyDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
    connect(m_scope, &QComboBox::currentTextChanged, this, &PolicyDialog::updateSelectors);
    connect(m_unit, &QComboBox::currentTextChanged, this, &PolicyDialog::updateSelectors);
    connect(m_algorithm, &QComboBox::currentTextChanged, this, &PolicyDialog::updateSelectors);
    m_windowText->setText(readableWindow(m_window->value()));
    updateSelectors();
}

void PolicyDialog::setChoices(const QString &kind, const QStringList &ids)
{
    QComboBox *c = kind == QLatin1String("tenants") ? m_tenant
                   : kind == QLatin1String("users") ? m_user
                   : kind == QLatin1String("models") ? m_model
                   : kind == QLatin1String("tiers") ? m_tier
                                                    : nullptr;
    if (c)
        setPickerChoices(c, ids);
}

void PolicyDialog::updateSelectors()
{
    const Scope scope = scopeFromName(m_scope->currentText()).value_or(Scope::Global);
    m_tenant->setEnabled(PolicyDto::scopeAllows(scope, "tenantId"));
    m_user->setEnabled(PolicyDto::scopeAllows(scope, "userId"));
    m_apiKey->setEnabled(PolicyDto::scopeAllows(scope, "apiKeyId"));
    m_model->setEnabled(PolicyDto::scopeAllows(scope, "modelId"));
    m_tier->setEnabled(PolicyDto::scopeAllows(scope, "modelTier"));
    // Only the fields the unit and algorithm allow: a concurrent policy has no window and no
    // algorithm; a burst is a token bucket's.
    const bool concurrent = m_unit->currentText() == unitName(Unit::Concurrent);
    m_window->setEnabled(!concurrent);
    m_algorithm->setEnabled(!concurrent);
    if (concurrent)
        m_algorithm->setCurrentText(algorithmName(Algorithm::SlidingLog));
    m_burst->setEnabled(!concurrent && m_algorithm->currentText() == algorithmName(Algorithm::TokenBucket));
}

namespace {
// A whole non-negative integer or nothing: QString::toLongLong would read "1O0" as 0.
std::optional<qint64> wholeNumber(const QString &text)
{
    bool ok = false;
    const qint64 v = text.trimmed().toLongLong(&ok);
    if (!ok || v < 0)
        return std::nullopt;
    return v;
}
} // namespace

QString PolicyDialog::validationError() const
{
    if (!wholeNumber(m_limit->text()))
        return QStringLiteral("Limit must be a whole number of 0 or more, not '%1'.").arg(m_limit->text());
    if (m_apiKey->isEnabled() && !m_apiKey->text().trimmed().isEmpty()) {
        const auto id = wholeNumber(m_apiKey->text());
        if (!id || *id == 0)
            return QStringLiteral("API key id must be a positive whole number, not '%1'.").arg(m_apiKey->text());
    }
    return QString();
}

void PolicyDialog::accept()
{
    const QString why = validationError();
    if (!why.isEmpty()) {
        m_error->setText(why);
        m_error->show();
        return; // stay open: what was typed is kept
    }
    m_error->hide();
    if (!m_submitter)
        return QDialog::accept();
    if (m_sending)
        return;
    m_sending = true;
    QPointer<PolicyDialog> self(this);
    m_submitter(policy(), [self](const QString &refusal) {
        if (!self)
            return;
        self->m_sending = false;
        if (refusal.isEmpty())
            return self->QDialog::accept();
        self->m_error->setText(refusal);
        self->m_error->show();
    });
}

QString PolicyDialog::errorText() const { return m_error->isVisible() ? m_error->text() : QString(); }

PolicyDto PolicyDialog::policy() const
{
    PolicyDto p;
    p.id = m_id;
    p.scope = scopeFromName(m_scope->currentText()).value_or(Scope::Global);
    auto selector = [](const QComboBox *e) {
        return e->isEnabled() && !e->currentText().trimmed().isEmpty() ? e->currentText().trimmed() : QString();
    };
    p.tenantId = selector(m_tenant);
    p.userId = selector(m_user);
    if (m_apiKey->isEnabled() && !m_apiKey->text().isEmpty())
        p.apiKeyId = wholeNumber(m_apiKey->text()).value_or(0);
    p.modelId = selector(m_model);
    p.modelTier = selector(m_tier);
    p.unit = unitFromName(m_unit->currentText()).value_or(Unit::Requests);
    p.windowSeconds = p.unit == Unit::Concurrent ? 0 : m_window->value();
    p.algorithm = algorithmFromName(m_algorithm->currentText()).value_or(Algorithm::SlidingLog);
    if (m_burst->isEnabled() && m_burst->value() > 0)
        p.burst = m_burst->value();
    p.shadow = m_shadow->isChecked();
    p.limit = wholeNumber(m_limit->text()).value_or(-1); // -1: never sent (accept() refuses it)
    p.enabled = m_enabled->isChecked();
    p.description = m_description->text();
    return p;
}

} // namespace sluice
