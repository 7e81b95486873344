// SPDX-License-Identifier: Apache-2.0
#include "policiespage.h"

#include "message.h"
#include "apiclient.h"
#include "confirm.h"
#include "models/policytablemodel.h"
#include "policydialog.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QLineEdit>
#include <QTableView>
#include <QVBoxLayout>

namespace sluice {

PoliciesPage::PoliciesPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_model = new PolicyTableModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(PolicyTableModel::SortRole);
    m_proxy->setFilterKeyColumn(-1); // any column
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_filter = new QLineEdit;
    m_filter->setObjectName(QStringLiteral("filter"));
    setPlaceholder(m_filter, QStringLiteral("Filter: a tenant, a model, a scope, tokens…"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    m_view = new QTableView;
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(PolicyTableModel::IdColumn, Qt::AscendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->verticalHeader()->hide();
    m_message = new QLabel;
    m_message->setObjectName(QStringLiteral("message"));
    keepWithinWidth(m_message);

    auto *refresh = new QPushButton(QStringLiteral("Refresh"));
    auto *add = m_add = new QPushButton(QStringLiteral("Add…"));
    auto *editButton = m_edit = new QPushButton(QStringLiteral("Edit…"));
    auto *del = m_delete = new QPushButton(QStringLiteral("Delete"));
    add->setObjectName(QStringLiteral("add"));
    editButton->setObjectName(QStringLiteral("edit"));
    del->setObjectName(QStringLiteral("delete"));
    // Without an admin token the server refuses every change: say how to fix it, offer nothing
    // that cannot work (again whenever the connection changes).
    updateActions();
    connect(client, &ApiClient::serverChanged, this, [this] {
        m_unreachable = false;
        updateActions();
    });
    connect(refresh, &QPushButton::clicked, this, &PoliciesPage::refresh);
    connect(add, &QPushButton::clicked, this, [this] {
        PolicyDto fresh;
        fresh.limit = 100;
        edit(fresh);
    });
    auto selected = [this]() -> const PolicyDto * {
        const QModelIndexList rows = m_view->selectionModel()->selectedRows();
        return rows.isEmpty() ? nullptr : m_model->policyAt(m_proxy->mapToSource(rows.first()).row());
    };
    connect(editButton, &QPushButton::clicked, this, [this, selected] {
        if (const PolicyDto *p = selected())
            edit(*p);
    });
    connect(m_view, &QTableView::doubleClicked, this, [this, editButton](const QModelIndex &index) {
        if (const PolicyDto *p = m_model->policyAt(m_proxy->mapToSource(index).row()); p && editButton->isEnabled())
            edit(*p);
    });
    connect(del, &QPushButton::clicked, this, [this, selected] {
        if (const PolicyDto *p = selected())
            requestRemove(p->id);
    });
    auto *buttons = new QHBoxLayout;
    for (QPushButton *b : {refresh, add, editButton, del})
        buttons->addWidget(b);
    buttons->addStretch();
    buttons->addWidget(m_filter, 2);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_message);
}

void PoliciesPage::setFilterText(const QString &text) { m_filter->setText(text); }

void PoliciesPage::updateActions()
{
    const bool token = m_client->hasAdminToken();
    for (QPushButton *b : {m_add, m_edit, m_delete}) {
        b->setEnabled(token && !m_unreachable);
        b->setToolTip(!token ? QStringLiteral("Needs an admin token: Server → Connect… (Ctrl+L), or start the "
                                              "console with SLUICE_ADMIN_TOKEN set (scripts/run prints it)")
                      : m_unreachable ? QStringLiteral("The server does not answer: Refresh when it is back")
                                      : QString());
    }
}

void PoliciesPage::showMessage(const QString &text, bool error)
{
    m_message->setText(text);
    m_message->setStyleSheet(error ? QStringLiteral("color: #b3261e") : QString());
    if (error)
        Q_EMIT failed(text);
}

void PoliciesPage::refresh() { reload(QString()); }

void PoliciesPage::reload(const QString &note)
{
    m_client->listPolicies(this, [this, note](const QList<PolicyDto> &policies, const ApiError *error) {
        if (error) {
            // No stale table with live buttons: what is not known now is not shown.
            m_select = 0; // (a later list does not select it out of the blue)
            m_model->setPolicies({});
            m_unreachable = error->status() == 0;
            updateActions();
            const QString how = error->status() == 401 ? QStringLiteral(" — the server refused the admin token; set SLUICE_ADMIN_TOKEN to its token")
                              : error->status() == 403 ? QStringLiteral(" — the server's admin API is off (it has no admin token)")
                                                       : QString();
            return showMessage(QStringLiteral("Cannot list policies (%1): %2%3").arg(error->status()).arg(error->message(), how), true);
        }
        // The selection stays on its policy across a list (or goes to the one asked for).
        const qint64 asked = std::exchange(m_select, 0);
        const qint64 keep = asked ? asked : selectedPolicyId();
        m_model->setPolicies(policies);
        m_unreachable = false;
        updateActions();
        m_view->resizeColumnsToContents();
        const bool kept = keep && selectPolicy(keep);
        const QString count = QStringLiteral("%1 policies").arg(policies.size());
        if (asked) {
            m_view->setFocus();
            showMessage(kept ? QStringLiteral("Policy %1 selected: the one that refused the caller").arg(asked)
                             : QStringLiteral("Cannot show policy %1: it is not in the list (deleted meanwhile?)").arg(asked),
                        !kept);
        } else {
            showMessage(note.isEmpty() ? count : note + QStringLiteral(" · ") + count, false);
        }
        Q_EMIT refreshed();
    });
}

void PoliciesPage::showPolicy(qint64 id)
{
    m_filter->clear();
    m_select = id;
    if (isVisible())
        refresh(); // (a page being shown lists again anyway)
}

bool PoliciesPage::selectPolicy(qint64 id)
{
    for (int row = 0; row < m_model->rowCount(); ++row) {
        const PolicyDto *p = m_model->policyAt(row);
        if (!p || p->id != id)
            continue;
        const QModelIndex shown = m_proxy->mapFromSource(m_model->index(row, 0));
        m_view->selectRow(shown.row());
        m_view->scrollTo(shown);
        return true;
    }
    return false;
}

qint64 PoliciesPage::selectedPolicyId() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return 0;
    const PolicyDto *p = m_model->policyAt(m_proxy->mapToSource(rows.first()).row());
    return p ? p->id : 0;
}

void PoliciesPage::edit(const PolicyDto &policy)
{
    auto *dialog = new PolicyDialog(policy, this);
    dialog->setObjectName(QStringLiteral("policyDialog"));
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    // The pickers offer the registry (answers for a dialog already closed are dropped with it).
    for (const QString &kind : {QStringLiteral("tenants"), QStringLiteral("users"), QStringLiteral("models"), QStringLiteral("tiers")}) {
        m_client->registryIds(kind, dialog, [dialog, kind](const QStringList &ids, const ApiError *error) {
            if (!error)
                dialog->setChoices(kind, ids);
        });
    }
    // OK sends it; the dialog closes only when the server took it, else it shows why and stays.
    dialog->setSubmitter([this, dialog](const PolicyDto &p, std::function<void(const QString &)> done) {
        auto save = [this, p, done] {
            m_client->savePolicy(p, this, [this, done](const PolicyDto &saved, const ApiError *error) {
                if (error) {
                    const QString why = QStringLiteral("Not saved (%1): %2").arg(error->status()).arg(error->message());
                    showMessage(why, true);
                    return done(why);
                }
                done(QString());
                reload(QStringLiteral("Saved policy %1").arg(saved.id));
            });
        };
        // A limit of 0 refuses everything it covers: said in so many words before it is saved.
        if (const QString impact = zeroLimitImpact(p); !impact.isEmpty()) {
            return confirmThen(dialog, QStringLiteral("confirmZeroLimit"), QStringLiteral("A limit of 0"), impact, save,
                               [done] { done(QStringLiteral("Not saved: the limit of 0 was not confirmed.")); });
        }
        save();
    });
    dialog->open(); // window-modal, without a nested event loop
}

QString PoliciesPage::zeroLimitImpact(const PolicyDto &p)
{
    if (p.limit != 0 || p.shadow)
        return QString();
    QString who;
    switch (p.scope) {
    case Scope::Global: who = QStringLiteral("every request of every tenant, user and model"); break;
    case Scope::Tenant: who = p.tenantId.isEmpty() ? QStringLiteral("every request of every tenant")
                                                   : QStringLiteral("every request of tenant %1 — all its users, keys and models").arg(p.tenantId); break;
    case Scope::ModelTier: who = p.modelTier.isEmpty() ? QStringLiteral("every request to every model tier")
                                                       : QStringLiteral("every request to a model of tier %1, from every tenant").arg(p.modelTier); break;
    case Scope::Model: who = p.modelId.isEmpty() ? QStringLiteral("every request to every model")
                                                 : QStringLiteral("every request to model %1, from every tenant").arg(p.modelId); break;
    default: who = QStringLiteral("every request this policy covers"); break;
    }
    return QStringLiteral("A limit of 0 refuses %1, on every instance, from the moment it is saved (429 until it is "
                          "changed). Save it?").arg(who);
}

void PoliciesPage::requestRemove(qint64 id)
{
    confirmThen(this, QStringLiteral("confirmDelete"), QStringLiteral("Delete policy"),
                QStringLiteral("Delete policy %1? Its limit stops applying at once on every instance.").arg(id),
                [this, id] { remove(id); });
}

void PoliciesPage::submit(const PolicyDto &policy)
{
    m_client->savePolicy(policy, this, [this](const PolicyDto &saved, const ApiError *error) {
        if (error)
            return showMessage(QStringLiteral("Not saved (%1): %2").arg(error->status()).arg(error->message()), true);
        reload(QStringLiteral("Saved policy %1").arg(saved.id));
    });
}

void PoliciesPage::remove(qint64 id)
{
    m_client->deletePolicy(id, this, [this, id](const ApiError *error) {
        if (error)
            return showMessage(QStringLiteral("Not deleted (%1): %2").arg(error->status()).arg(error->message()), true);
        reload(QStringLiteral("Deleted policy %1").arg(id));
    });
}

QString PoliciesPage::message() const { return m_message->text(); }

} // namespace sluice
